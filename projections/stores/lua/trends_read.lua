-- The top tags of one window: the sum of its buckets' tag counts (one ZUNIONSTORE into a scratch key),
-- the `limit` highest, ties at the boundary taken in tag order; then, for those tags only, the distinct
-- authors over the buckets and the display form of the earliest tweet (each bucket keeps its least id's).
-- ARGV: prefix, window, limit, bucket starts (oldest first). Returns tag, display, tweets, accounts, ...
local p, win, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local keys = {}
for i = 4, #ARGV do keys[#keys + 1] = p .. 'tr:{tr}:' .. win .. ':' .. ARGV[i] end
if #keys == 0 or limit < 1 then return {} end
local tmp = p .. 'tr:{tr}:' .. win .. ':scratch'
redis.call('ZUNIONSTORE', tmp, #keys, unpack(keys))
local top = redis.call('ZREVRANGE', tmp, 0, limit - 1, 'WITHSCORES')
local chosen = {}
if #top == limit * 2 then
  local edge = top[#top]
  for i = 1, #top, 2 do
    if tonumber(top[i + 1]) > tonumber(edge) then chosen[#chosen + 1] = {top[i], top[i + 1]} end
  end
  local ties = redis.call('ZRANGEBYSCORE', tmp, edge, edge, 'LIMIT', 0, limit - #chosen)
  for _, tag in ipairs(ties) do chosen[#chosen + 1] = {tag, edge} end
else
  for i = 1, #top, 2 do chosen[#chosen + 1] = {top[i], top[i + 1]} end
end
redis.call('DEL', tmp)
local out = {}
for _, c in ipairs(chosen) do
  local tag, seen, accounts, display = c[1], {}, 0, false
  for _, base in ipairs(keys) do
    for _, who in ipairs(redis.call('HKEYS', base .. ':a:' .. tag)) do
      if not seen[who] then seen[who] = true; accounts = accounts + 1 end
    end
    local d = redis.call('HGET', base .. ':d', tag)
    if d and (not display or d:sub(1, 19) < display:sub(1, 19)) then display = d end
  end
  out[#out + 1] = tag
  out[#out + 1] = display and display:sub(20) or tag
  out[#out + 1] = tostring(c[2])
  out[#out + 1] = accounts
end
return out
