-- follower started following followee: the followee's side, on the followee's node. ARGV: prefix, follower,
-- followee, cap, threshold. Returns {'celeb', promoted (1 if this follow made the followee a celebrity: the
-- worker then records it in every follower's `fc:` set)} or {'merge', 0, the followee's horizon, its newest
-- `cap` entries (newest first)}: what follow_in.lua, on the follower's node, does next.
local p, follower, followee = ARGV[1], ARGV[2], ARGV[3]
local cap, threshold = tonumber(ARGV[4]), tonumber(ARGV[5])
local celebrity = follow_out(p, follower, followee, threshold)
if celebrity > 0 then return {'celeb', celebrity - 1} end
local ut = K(p, 'ur', followee)
local out = {'merge', 0, horizon(ut)}
for _, e in ipairs(redis.call('ZRANGEBYLEX', ut, '-', '(' .. FF8, 'LIMIT', 0, cap)) do out[#out + 1] = e end
return out
