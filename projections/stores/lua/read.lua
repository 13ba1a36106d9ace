-- One page of a home timeline, with celebrity accounts merged in. ARGV: prefix, user, upper bound
-- ('' or an exclusive 8-byte id), limit, ttl. Returns {0} when the timeline is not materialized,
-- else {1, horizon, entries..., '', celebrity horizon, entries..., ...} (sources split by '').
local sources = home_sources(ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]))
if sources == nil then return {0} end
local out = {1}
for i, s in ipairs(sources) do
  if i > 1 then out[#out + 1] = '' end
  out[#out + 1] = s[1]
  for _, m in ipairs(s[2]) do out[#out + 1] = m end
end
return out
