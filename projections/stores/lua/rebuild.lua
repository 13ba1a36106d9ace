-- Materialize a home timeline (fan-out on read, inside Redis, atomically with respect to the
-- worker's writes). ARGV: prefix, user, cap, ttl seconds. Returns 1 if built, 0 if it existed.
-- Redis merges the sources in C: ZUNIONSTORE of the user's and each followee's recent tweets (sorted
-- sets) into a scratch key (entries sort newest first, sentinels last), then the newest `cap` entries
-- become the timeline (a list) in a few RPUSH calls. The horizon is the highest of the sources'
-- horizons, or the oldest entry kept when the cap cut some off.
local p, user, cap, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local tl = p .. 'hl:' .. user
if redis.call('EXISTS', tl) == 1 then redis.call('EXPIRE', tl, ttl); return 0 end
local sources = {p .. 'ur:' .. user}
for _, x in ipairs(redis.call('SMEMBERS', p .. 'fg:' .. user)) do sources[#sources + 1] = p .. 'ur:' .. x end
local h = ZERO8
for _, src in ipairs(sources) do
  local sh = horizon(src)
  if gt(sh, h) then h = sh end
end
local scratch = p .. 'scratch:rebuild:' .. user
local total = 0
for i = 1, #sources, 200 do -- ZUNIONSTORE takes the keys as arguments: a few hundred at a time
  local keys = {}
  if i > 1 then keys[1] = scratch end
  for j = i, math.min(i + 199, #sources) do keys[#keys + 1] = sources[j] end
  total = redis.call('ZUNIONSTORE', scratch, #keys, unpack(keys))
end
local entries = {}
if total > 0 then
  entries = redis.call('ZRANGEBYLEX', scratch, '-', '(' .. FF8, 'LIMIT', 0, cap)
  if #entries == cap and redis.call('ZLEXCOUNT', scratch, '-', '(' .. FF8) > cap then
    local oldest = flip(entries[#entries]:sub(1, 8))
    if gt(oldest, h) then h = oldest end
  end
  redis.call('DEL', scratch)
end
tl_replace(tl, entries, h)
redis.call('EXPIRE', tl, ttl)
return 1
