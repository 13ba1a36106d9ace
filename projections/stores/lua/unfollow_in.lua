-- follower stopped following followee: the follower's side, on the follower's node. ARGV: prefix, follower,
-- followee, followee as 8 bytes, cap, seconds to remember the unfollow (0: not at all). Purges the followee's
-- entries (the author is the entry's last 8 bytes), and remembers the followee in the follower's `uf:` set for
-- a while: a tweet of theirs the fan-out planned before this ran may be delivered after it; deliver.lua drops it.
-- Returns entries removed.
local p, follower, followee, suffix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
redis.call('SREM', K(p, 'fg', follower), followee)
redis.call('SREM', K(p, 'fc', follower), followee)
local remember = tonumber(ARGV[6]) -- 0: the batch follows again later (nothing to drop)
if remember > 0 then
  local uf = K(p, 'uf', follower)
  redis.call('SADD', uf, suffix)
  redis.call('EXPIRE', uf, remember)
end
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
