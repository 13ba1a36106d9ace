-- follower started following followee. ARGV: prefix, follower, followee, cap, threshold.
-- Backfills the followee's recent tweets into a materialized timeline (not for celebrities: their
-- tweets are merged at read time): one merge of two lists sorted newest first (tl_merge), the newest
-- `cap` kept.
-- Returns {entries backfilled, 1 if this follow made the followee a celebrity (the worker then records it in
-- every follower's `fc:` set, node by node) else 0}. A followed celebrity goes into the follower's `fc:` set.
local p, follower, followee = ARGV[1], ARGV[2], ARGV[3]
local cap, threshold = tonumber(ARGV[4]), tonumber(ARGV[5])
local fo = K(p, 'fo', followee)
redis.call('SADD', fo, follower)
redis.call('SADD', K(p, 'fg', follower), followee)
local cb = K(p, 'cb', followee)
if redis.call('EXISTS', cb) == 1 then redis.call('SADD', K(p, 'fc', follower), followee); return {0, 0} end
if redis.call('SCARD', fo) > threshold then redis.call('SET', cb, 1); return {0, 1} end
local tl = K(p, 'hl', follower)
if redis.call('EXISTS', tl) == 0 then return {0, 0} end
local ut = K(p, 'ur', followee)
local theirs = redis.call('ZRANGEBYLEX', ut, '-', '(' .. FF8, 'LIMIT', 0, cap) -- newest first, no sentinel
if #theirs == 0 then return {0, 0} end
tl_fold_inbox(p, follower, cap)
local h = tl_horizon(tl)
local uh = horizon(ut)
if gt(uh, h) then h = uh end
return {tl_merge(tl, theirs, h, cap), 0}
