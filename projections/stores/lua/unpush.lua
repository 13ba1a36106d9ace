-- A tweet was deleted. ARGV: prefix, author, entry. Removed from every timeline that may hold it,
-- celebrity or not (it may have been pushed before the account crossed the threshold).
local p, author, entry = ARGV[1], ARGV[2], ARGV[3]
local removed = redis.call('ZREM', p .. 'ut:' .. author, entry)
removed = removed + redis.call('ZREM', p .. 'tl:' .. author, entry)
for _, f in ipairs(redis.call('SMEMBERS', p .. 'fo:' .. author)) do
  removed = removed + redis.call('ZREM', p .. 'tl:' .. f, entry)
end
return removed
