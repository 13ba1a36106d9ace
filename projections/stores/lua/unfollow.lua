-- follower stopped following followee. ARGV: prefix, follower, followee, followee as 8 bytes.
-- Purges the followee's entries (the author is the entry's last 8 bytes). Returns entries removed.
local p, follower, followee, suffix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('SREM', p .. 'fo:' .. followee, follower)
redis.call('SREM', p .. 'fg:' .. follower, followee)
local tl = p .. 'tl:' .. follower
local gone = {}
for _, m in ipairs(redis.call('ZRANGEBYLEX', tl, '-', '(' .. FF8)) do
  if m:sub(9, 16) == suffix then gone[#gone + 1] = m end
end
if #gone == 0 then return 0 end
return redis.call('ZREM', tl, unpack(gone))
