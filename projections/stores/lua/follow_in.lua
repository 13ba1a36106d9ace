-- follower started following followee: the follower's side, on the follower's node, after follow.lua.
-- ARGV: prefix, follower, followee, followee as 8 bytes, cap, 'celeb' or 'merge', the followee's horizon, its
-- newest entries. The followee leaves the follower's `uf:` set (following again: deliveries are wanted again).
-- A celebrity goes into the follower's `fc:` set (merged at read time); otherwise its recent tweets are
-- backfilled into a materialized timeline: one merge of two lists sorted newest first (tl_merge), the
-- newest `cap` kept. Returns the entries backfilled.
local p, follower, followee, suffix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local cap, mode = tonumber(ARGV[5]), ARGV[6]
follow_sets(p, follower, followee, suffix, mode == 'celeb')
if mode == 'celeb' then return 0 end
local tl = K(p, 'hl', follower)
if #ARGV < 8 or redis.call('EXISTS', tl) == 0 then return 0 end
local theirs = {}
for i = 8, #ARGV do theirs[#theirs + 1] = ARGV[i] end
tl_fold_inbox(p, follower, cap)
local h = tl_horizon(tl)
if gt(ARGV[7], h) then h = ARGV[7] end
return tl_merge(tl, theirs, h, cap)
