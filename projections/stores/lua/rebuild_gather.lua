-- The gathering half of a rebuild part on a Redis Cluster, run on the node that serves the followees given
-- (rebuild_in.lua merges the result on the reader's node). ARGV: prefix, cap, followee ids. Returns
-- {horizon, entries...}: the newest `cap` entries of their recent tweets, merged, and the horizon below
-- which they may be incomplete.
local p, cap = ARGV[1], tonumber(ARGV[2])
local sources = {}
for i = 3, #ARGV do sources[#sources + 1] = K(p, 'ur', ARGV[i]) end
local entries, h = gather(sources, cap)
local out = {h}
for _, e in ipairs(entries) do out[#out + 1] = e end
return out
