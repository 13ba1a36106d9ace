-- Materialize a home timeline (fan-out on read, inside Redis, atomically with respect to the
-- worker's writes). ARGV: prefix, user, cap, ttl seconds. Returns 1 if built, 0 if it existed.
local p, user, cap, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local tl = p .. 'tl:' .. user
if redis.call('EXISTS', tl) == 1 then redis.call('EXPIRE', tl, ttl); return 0 end
local sources = {p .. 'ut:' .. user}
for _, x in ipairs(redis.call('SMEMBERS', p .. 'fg:' .. user)) do sources[#sources + 1] = p .. 'ut:' .. x end
local h = ZERO8
for _, src in ipairs(sources) do
  local members = redis.call('ZRANGE', src, 0, -1)
  if #members > 0 then
    local sh = horizon(src)
    if gt(sh, h) then h = sh end
    for i = 2, #members do redis.call('ZADD', tl, 0, members[i]) end
  end
end
redis.call('ZADD', tl, 0, ZERO8 .. h)
trim(tl, cap)
redis.call('EXPIRE', tl, ttl)
return 1
