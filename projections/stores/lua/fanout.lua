-- A tweet was posted. ARGV: prefix, author, entry, cap, celebrity threshold, push (1, or 0 to only
-- record the tweet in the author's list: a bulk rebuild leaves home timelines to their first read).
-- The author's recent-tweets list is written before the followers are read. Accounts above the
-- threshold become celebrities (sticky) and are merged at read time instead of pushed.
-- Returns {deliveries, celebrity(0/1)}.
local p, author, entry = ARGV[1], ARGV[2], ARGV[3]
local cap, threshold, fan = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
local ut = p .. 'ut:' .. author
if redis.call('EXISTS', ut) == 0 then redis.call('ZADD', ut, 0, ZERO8 .. ZERO8) end
push(ut, entry, cap)
local delivered = 0
local own = p .. 'tl:' .. author
if redis.call('EXISTS', own) == 1 then push(own, entry, cap); delivered = 1 end
local celebs = p .. 'celebs'
if redis.call('SISMEMBER', celebs, author) == 1 then return {delivered, 1} end
if not fan then return {delivered, 0} end
local fo = p .. 'fo:' .. author
if redis.call('SCARD', fo) > threshold then
  redis.call('SADD', celebs, author)
  return {delivered, 1}
end
for _, f in ipairs(redis.call('SMEMBERS', fo)) do
  local k = p .. 'tl:' .. f
  if redis.call('EXISTS', k) == 1 then push(k, entry, cap); delivered = delivered + 1 end
end
return {delivered, 0}
