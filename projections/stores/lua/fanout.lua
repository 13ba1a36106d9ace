-- A tweet was posted. ARGV: prefix, author, entry, cap, celebrity threshold, push (1, or 0 to only
-- record the tweet in the author's list: a bulk rebuild leaves home timelines to their first read),
-- base prefix to publish under ('' for none: only the live version's pass publishes), and the "update"
-- message cut before its author (projections/wire.py update_head; the author is filled in here).
-- The author's recent-tweets list is written before the followers are read. Accounts above the
-- threshold become celebrities (sticky) and are merged at read time instead of pushed; their online
-- followers still get the "update" message. Publishing happens in the same script as the ZADD, so a
-- subscriber that reads the timeline after subscribing misses nothing.
-- Returns {deliveries, celebrity(0/1)}.
local p, author, entry = ARGV[1], ARGV[2], ARGV[3]
local cap, threshold, fan = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
local base, head = ARGV[7] or '', ARGV[8]
local index = nil
if fan then index = online_index(base) end
local msg = nil
local function update()
  if msg == nil then
    local u = redis.call('HMGET', p .. 'u:' .. author, 'h', 'n')
    local a = 'null'
    if u[1] then
      a = '{"user_id":"' .. author .. '","handle":' .. cjson.encode(u[1]) .. ',"display_name":' .. cjson.encode(u[2]) .. '}'
    end
    msg = head .. a .. '}}'
  end
  return msg
end
local ut = p .. 'ut:' .. author
if redis.call('EXISTS', ut) == 0 then redis.call('ZADD', ut, 0, FF8 .. ZERO8) end
push(ut, entry, cap)
local delivered = 0
local own = p .. 'tl:' .. author
if redis.call('EXISTS', own) == 1 then
  push(own, entry, cap)
  delivered = 1
  if index and redis.call('EXISTS', base .. 'online:' .. author) == 1 then publish_to(base, author, update()) end
end
local celebs = p .. 'celebs'
local fo = p .. 'fo:' .. author
local celebrity = redis.call('SISMEMBER', celebs, author) == 1
if not celebrity and fan and redis.call('SCARD', fo) > threshold then
  redis.call('SADD', celebs, author)
  celebrity = true
end
if celebrity then
  if index then
    for u in pairs(online_in(base, index, fo)) do publish_to(base, u, update()) end
  end
  return {delivered, 1}
end
if not fan then return {delivered, 0} end
local online = {}
if index then online = online_in(base, index, fo) end
for _, f in ipairs(redis.call('SMEMBERS', fo)) do
  local k = p .. 'tl:' .. f
  if redis.call('EXISTS', k) == 1 then
    push(k, entry, cap)
    delivered = delivered + 1
    if online[f] then publish_to(base, f, update()) end
  end
end
return {delivered, 0}
