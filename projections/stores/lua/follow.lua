-- follower started following followee. ARGV: prefix, follower, followee, cap, threshold.
-- Backfills the followee's recent tweets into a materialized timeline (not for celebrities: their
-- tweets are merged at read time): one merge of two lists sorted newest first (tl_merge), the newest
-- `cap` kept.
-- Returns the number of entries backfilled.
local p, follower, followee = ARGV[1], ARGV[2], ARGV[3]
local cap, threshold = tonumber(ARGV[4]), tonumber(ARGV[5])
local fo = K(p, 'fo', followee)
redis.call('SADD', fo, follower)
redis.call('SADD', K(p, 'fg', follower), followee)
local celebs = p .. 'celebs'
if redis.call('SISMEMBER', celebs, followee) == 1 then return 0 end
if redis.call('SCARD', fo) > threshold then redis.call('SADD', celebs, followee); return 0 end
local tl = K(p, 'hl', follower)
if redis.call('EXISTS', tl) == 0 then return 0 end
local ut = K(p, 'ur', followee)
local theirs = redis.call('ZRANGEBYLEX', ut, '-', '(' .. FF8, 'LIMIT', 0, cap) -- newest first, no sentinel
if #theirs == 0 then return 0 end
tl_fold_inbox(p, follower, cap)
local h = tl_horizon(tl)
local uh = horizon(ut)
if gt(uh, h) then h = uh end
return tl_merge(tl, theirs, h, cap)
