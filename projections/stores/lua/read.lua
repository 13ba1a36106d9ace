-- One page of a home timeline, with celebrity accounts merged in. ARGV: prefix, user, upper bound
-- ('' or an exclusive 8-byte id), limit, ttl. Returns {0} when the timeline is not materialized, else
-- {1, n, the n celebrities whose lists other nodes serve (a Redis Cluster), horizon, entries..., '',
-- celebrity horizon, entries..., ...} (sources split by '').
local sources, elsewhere = home_sources(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]))
if sources == nil then return {0} end
return sources_reply(1, sources, elsewhere)
