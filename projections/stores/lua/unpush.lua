-- A tweet was deleted. ARGV: prefix, author, entry, base prefix to publish under ('' for none), the
-- "delete" message. Removed from every timeline that may hold it, celebrity or not (it may have been
-- pushed before the account crossed the threshold); the author and online followers get the message.
local p, author, entry = ARGV[1], ARGV[2], ARGV[3]
local base, msg = ARGV[4] or '', ARGV[5]
local gone = K(p, 'dl', author) -- deleted tweets of the author, for a fan-out planned after the delete
redis.call('SADD', gone, entry)
redis.call('PEXPIRE', gone, 600000)
local removed = redis.call('ZREM', K(p, 'ur', author), entry)
removed = removed + redis.call('LREM', K(p, 'hl', author), 1, entry)
removed = removed + redis.call('ZREM', K(p, 'hx', author), entry)
local fo = K(p, 'fo', author)
for _, f in ipairs(redis.call('SMEMBERS', fo)) do
  removed = removed + redis.call('LREM', K(p, 'hl', f), 1, entry)
  removed = removed + redis.call('ZREM', K(p, 'hx', f), entry)
end
local index = online_index(base)
if index then
  if redis.call('EXISTS', K(base, 'online', author)) == 1 then publish_to(base, author, msg) end
  for u in pairs(online_in(base, index, fo)) do publish_to(base, u, msg) end
end
return removed
