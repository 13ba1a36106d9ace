-- follower started following followee: the follower's side, on the follower's node, after follow.lua.
-- ARGV: prefix, follower, followee, cap, 'celeb' or 'merge', the followee's horizon, its newest entries.
-- A celebrity goes into the follower's `fc:` set (merged at read time); otherwise its recent tweets are
-- backfilled into a materialized timeline: one merge of two lists sorted newest first (tl_merge), the
-- newest `cap` kept. Returns the entries backfilled.
local p, follower, followee, cap, mode = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5]
redis.call('SADD', K(p, 'fg', follower), followee)
if mode == 'celeb' then redis.call('SADD', K(p, 'fc', follower), followee); return 0 end
local tl = K(p, 'hl', follower)
if #ARGV < 7 or redis.call('EXISTS', tl) == 0 then return 0 end
local theirs = {}
for i = 7, #ARGV do theirs[#theirs + 1] = ARGV[i] end
tl_fold_inbox(p, follower, cap)
local h = tl_horizon(tl)
if gt(ARGV[6], h) then h = ARGV[6] end
return tl_merge(tl, theirs, h, cap)
