-- One page of a home timeline, with celebrity accounts merged in. ARGV: prefix, user, upper bound
-- ('' or an exclusive 8-byte id), limit, ttl. Returns {0} when the timeline is not materialized,
-- else {1, horizon, entries..., '', celebrity horizon, entries..., ...} (sources split by '').
local p, user, before, limit, ttl = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local tl = p .. 'tl:' .. user
if redis.call('EXISTS', tl) == 0 then return {0} end
redis.call('EXPIRE', tl, ttl)
local max = '+'
if before ~= '' then max = '(' .. before end
local out = {1}
local function add(key)
  out[#out + 1] = horizon(key)
  for _, m in ipairs(redis.call('ZREVRANGEBYLEX', key, max, '-', 'LIMIT', 0, limit + 1)) do
    if m:sub(1, 8) ~= ZERO8 then out[#out + 1] = m end
  end
end
add(tl)
local fg = p .. 'fg:' .. user
for _, c in ipairs(redis.call('SMEMBERS', p .. 'celebs')) do
  if redis.call('SISMEMBER', fg, c) == 1 then
    out[#out + 1] = ''
    add(p .. 'ut:' .. c)
  end
end
return out
