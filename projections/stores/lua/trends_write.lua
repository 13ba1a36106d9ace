-- Tweets' changes to the trend buckets (projections/stores/redis_trends.py), several per call. Idempotent: a
-- tweet is counted in a (bucket, tag) once, as a field of that pair's tweet hash, and every count moves only
-- when that field is added or removed; `trt:<tweet>` remembers the tags the tweet counts under (or `x` once it
-- is deleted), so an edit moves counts and a redelivered post or delete changes nothing. The display form
-- kept is the earliest tweet's (least id), the same whatever order partitions are processed in.
-- ARGV: prefix, then per tweet: op (post|edit|delete), tweet, author, expire_at (of trt), nb, nt, nb x (window,
-- bucket, expire_at), then nt (tag, display) pairs: the tags of the post or of the edited text.
-- Returns the tweets that changed the counts.
local p = ARGV[1]
local tweet, tweet_key, buckets
-- The expiry each key got in this call: the keys of a bucket are shared by its tweets, and an EXPIREAT to the
-- same time again changes nothing. A key that may have been emptied (and so deleted) is forgotten.
local expired = {}

local function before(a, b) -- bytewise a < b on the 19-digit prefix (no locale-dependent compare)
  for i = 1, 19 do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x < y end
  end
  return false
end

local function add(tag, display, who)
  for _, b in ipairs(buckets) do
    local base, ex = b[1], b[2]
    local tk, ak, dk = base .. ':t:' .. tag, base .. ':a:' .. tag, base .. ':d'
    if redis.call('HSETNX', tk, tweet, who) == 1 then
      redis.call('ZINCRBY', base, 1, tag)
      redis.call('HINCRBY', ak, who, 1)
      local first = redis.call('HGET', dk, tag) -- the form of the earliest tweet: the same in any order
      local mine = tweet_key .. display
      if not first or before(mine, first) then redis.call('HSET', dk, tag, mine) end
      for _, k in ipairs({tk, ak, dk, base}) do
        if expired[k] ~= ex then redis.call('EXPIREAT', k, ex); expired[k] = ex end
      end
    end
  end
end

local function remove(tag, who)
  for _, b in ipairs(buckets) do
    local base = b[1]
    local tk = base .. ':t:' .. tag
    if redis.call('HDEL', tk, tweet) == 1 then
      if tonumber(redis.call('ZINCRBY', base, -1, tag)) <= 0 then redis.call('ZREM', base, tag) end
      local ak = base .. ':a:' .. tag
      expired[base], expired[tk], expired[ak] = nil, nil, nil
      if redis.call('HINCRBY', ak, who, -1) <= 0 then redis.call('HDEL', ak, who) end
    end
  end
end

-- trt value: author, then one "tag\tdisplay" per line
local function decode(v)
  local out, who = {}, nil
  for line in string.gmatch(v, '[^\n]+') do
    if who == nil then who = line else
      local t, d = string.match(line, '^([^\t]*)\t(.*)$')
      out[t] = d
    end
  end
  return who, out
end

local function encode(who, t, order)
  local parts = {who}
  for _, tag in ipairs(order) do parts[#parts + 1] = tag .. '\t' .. t[tag] end
  return table.concat(parts, '\n')
end

local function apply(op, author, tex, tags, order)
  local tkey = p .. 'trt:{tr}:' .. tweet
  local old = redis.call('GET', tkey)
  if op == 'post' then
    if old then return 0 end -- already counted, edited since, or deleted
    if #order == 0 then return 0 end -- nothing to count; an edit that adds tags starts from none
    redis.call('SET', tkey, encode(author, tags, order), 'EXAT', tex)
    for _, tag in ipairs(order) do add(tag, tags[tag], author) end
    return 1
  elseif op == 'edit' then
    if old == 'x' then return 0 end
    local who, before = author, {}
    if old then who, before = decode(old) end
    for tag, _ in pairs(before) do
      if tags[tag] == nil then remove(tag, who) end
    end
    for _, tag in ipairs(order) do
      if before[tag] == nil then add(tag, tags[tag], who) end
    end
    if #order == 0 then
      redis.call('DEL', tkey)
    else
      redis.call('SET', tkey, encode(who, tags, order), 'EXAT', tex)
    end
    return 1
  elseif op == 'delete' then
    if old == 'x' then return 0 end
    if old then
      local who, before = decode(old)
      for tag, _ in pairs(before) do remove(tag, who) end
    end
    redis.call('SET', tkey, 'x', 'EXAT', tex)
    return 1
  end
  return redis.error_reply('unknown op ' .. tostring(op))
end

local changed, j = 0, 2
while j <= #ARGV do
  local op, author, tex = ARGV[j], ARGV[j + 2], ARGV[j + 3]
  local nb, nt = tonumber(ARGV[j + 4]), tonumber(ARGV[j + 5])
  tweet = ARGV[j + 1]
  tweet_key = string.rep('0', 19 - #tweet) .. tweet -- fixed width: compares as the id does
  buckets = {}
  j = j + 6
  for _ = 1, nb do
    buckets[#buckets + 1] = {p .. 'tr:{tr}:' .. ARGV[j] .. ':' .. ARGV[j + 1], ARGV[j + 2]}
    j = j + 3
  end
  local tags, order = {}, {}
  for _ = 1, nt do
    tags[ARGV[j]] = ARGV[j + 1]
    order[#order + 1] = ARGV[j]
    j = j + 2
  end
  local done = apply(op, author, tex, tags, order)
  if type(done) == 'table' then return done end -- an error reply
  changed = changed + done
end
return changed
