-- follower stopped following followee: the follower's side, on the follower's node. ARGV: prefix, follower,
-- followee, followee as 8 bytes, cap. Purges the followee's entries (the author is the entry's last 8
-- bytes). Returns entries removed.
local p, follower, followee, suffix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('SREM', K(p, 'fg', follower), followee)
redis.call('SREM', K(p, 'fc', follower), followee)
local tl = K(p, 'hl', follower)
if redis.call('EXISTS', tl) == 0 then return 0 end
tl_fold_inbox(p, follower, tonumber(ARGV[5]))
local kept = {}
local all = tl_entries(tl)
for _, m in ipairs(all) do
  if m:sub(9, 16) ~= suffix then kept[#kept + 1] = m end
end
if #kept == #all then return 0 end
tl_replace(tl, kept, tl_horizon(tl))
return #all - #kept
