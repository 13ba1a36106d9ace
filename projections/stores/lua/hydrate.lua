-- Everything a page shows, in one round trip. ARGV: prefix, then tweet id and author id pairs.
-- Per pair: 7 tweet fields (author, content, created, reply_to, edited, media, deleted),
-- like count, reply count, handle, display name.
local p = ARGV[1]
local out = {}
for i = 2, #ARGV, 2 do
  local t, a = ARGV[i], ARGV[i + 1]
  local f = redis.call('HMGET', p .. 't:' .. t, 'a', 'c', 'ts', 'r', 'e', 'm', 'd')
  for _, v in ipairs(f) do out[#out + 1] = v end
  out[#out + 1] = redis.call('SCARD', p .. 'lk:' .. t)
  out[#out + 1] = redis.call('SCARD', p .. 'rp:' .. t)
  local u = redis.call('HMGET', p .. 'u:' .. a, 'h', 'n')
  out[#out + 1] = u[1]
  out[#out + 1] = u[2]
end
return out
