-- The merging half of a rebuild part whose followees another Redis Cluster node serves (rebuild_gather.lua
-- gathered their entries there). ARGV: prefix, user, cap, ttl seconds, last (1 or 0), n, the n followee ids,
-- the same n ids as 8-byte ids, the gathered horizon, then the gathered entries. As rebuild_part.lua:
-- entries of followees unfollowed since the builder listed them are dropped; returns 1, or 0 when the build
-- was abandoned.
local p, user, cap, ttl, last = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local n = tonumber(ARGV[6])
local tl = K(p, 'hl', user)
local mark = K(p, 'hb', user)
if redis.call('EXISTS', mark) == 0 or redis.call('EXISTS', tl) == 0 then return 0 end
local fg = K(p, 'fg', user)
local gone, any = {}, false
for i = 1, n do
  if redis.call('SISMEMBER', fg, ARGV[6 + i]) == 0 then gone[ARGV[6 + n + i]], any = true, true end
end
local entries = {}
for i = 8 + 2 * n, #ARGV do
  local e = ARGV[i]
  if not (any and gone[e:sub(9, 16)]) then entries[#entries + 1] = e end
end
build_step(p, user, tl, mark, entries, ARGV[7 + 2 * n], cap, ttl, last)
return 1
