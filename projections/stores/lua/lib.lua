-- Shared helpers, prepended to every chirp script. Keys are built inside the scripts from a prefix, a family
-- and an id, the id in braces: a hash tag, so that one user's keys (or one tweet's) share a Redis Cluster slot
-- (projections/stores/keys.py has the same layout).
-- Timeline entries are 16 bytes: the COMPLEMENTED tweet id (2^64 - 1 - id, big-endian) then the author
-- id, so bytewise order is newest first. An author's recent tweets are a sorted set of them (every score
-- 0: the newest inserts at the head of the listpack); a home timeline is a list of them (below). Both
-- always hold a sentinel member, sorting last: 8 bytes of 0xFF then the 8-byte "horizon" id (not
-- complemented). Entries newer than the horizon are complete; older ones may have been trimmed, and
-- readers go to Cassandra for them.
local function K(prefix, family, id)
  return prefix .. family .. ':{' .. id .. '}'
end

local ZERO8 = string.rep('\0', 8)
local FF8 = string.rep('\255', 8)

local function gt(a, b) -- bytewise a > b for equal-length strings (no locale-dependent compare)
  for i = 1, #a do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x > y end
  end
  return false
end

local function flip(s) -- the complement of 8 bytes: an entry's first 8 bytes <-> the tweet id
  local a, b, c, d, e, f, g, h = s:byte(1, 8)
  return string.char(255 - a, 255 - b, 255 - c, 255 - d, 255 - e, 255 - f, 255 - g, 255 - h)
end

local function sentinel_of(key)
  local s = redis.call('ZRANGE', key, -1, -1)[1]
  if s ~= nil and s:sub(1, 8) == FF8 then return s end
  return nil
end

local function horizon(key)
  local s = sentinel_of(key)
  if s == nil then return ZERO8 end
  return s:sub(9, 16)
end

local function raise_horizon(key, h)
  local s = sentinel_of(key)
  if s ~= nil then
    if not gt(h, s:sub(9, 16)) then return end
    redis.call('ZREM', key, s)
  end
  redis.call('ZADD', key, 0, FF8 .. h)
end

-- A set may overshoot its cap by an eighth before it is cut back to the cap: trimming (and moving
-- the horizon) rewrites the tail of the listpack, so it happens once per cap/8 pushes, not on every push.
-- The oldest entries sit just before the sentinel; the oldest one kept becomes the horizon.
local function trim(key, cap)
  local n = redis.call('ZCARD', key)
  if n > cap + 1 + math.floor(cap / 8) then
    redis.call('ZREMRANGEBYRANK', key, cap, n - 2)
    local low = redis.call('ZRANGE', key, cap - 1, cap - 1)[1]
    raise_horizon(key, flip(low:sub(1, 8)))
  end
end

local function push(key, member, cap)
  redis.call('ZADD', key, 0, member)
  trim(key, cap)
end

-- Home timelines are LISTS of the same entries, kept sorted newest first with no repeats, the sentinel
-- last: a delivery of the newest tweet is an LPUSH after one LINDEX, whatever the timeline's length
-- (a sorted set's ZADD first walks its whole listpack to look for the member). Entries that arrive late
-- wait in a small inbox (see tl_insert).
local function tl_horizon(key)
  local s = redis.call('LINDEX', key, -1)
  if s and s:sub(1, 8) == FF8 then return s:sub(9, 16) end
  return ZERO8
end

local function tl_raise_horizon(key, h)
  local s = redis.call('LINDEX', key, -1)
  if s and s:sub(1, 8) == FF8 then
    if not gt(h, s:sub(9, 16)) then return end
    redis.call('RPOP', key)
  end
  redis.call('RPUSH', key, FF8 .. h)
end

-- Cut a timeline of n members (sentinel included) back to `cap` entries once it overshoots by an eighth;
-- the oldest entry kept becomes the horizon.
local function tl_trim(key, n, cap)
  if n > cap + 1 + math.floor(cap / 8) then
    local low = redis.call('LINDEX', key, cap - 1)
    local s = redis.call('LINDEX', key, -1)
    redis.call('LTRIM', key, 0, cap - 1)
    local h = flip(low:sub(1, 8))
    if s:sub(1, 8) == FF8 and gt(s:sub(9, 16), h) then h = s:sub(9, 16) end
    redis.call('RPUSH', key, FF8 .. h)
  end
end

-- The first 8 bytes of an entry as two exact numbers (48 and 16 bits): comparing them is much cheaper in
-- Lua than a byte loop, and entries with equal first 8 bytes are the same tweet.
local function id_key(s)
  local b1, b2, b3, b4, b5, b6, b7, b8 = s:byte(1, 8)
  return ((((b1 * 256 + b2) * 256 + b3) * 256 + b4) * 256 + b5) * 256 + b6, b7 * 256 + b8
end

-- A timeline's entries (no sentinel), newest first.
local function tl_entries(key)
  local all = redis.call('LRANGE', key, 0, -1)
  if #all > 0 and all[#all]:sub(1, 8) == FF8 then all[#all] = nil end
  return all
end

-- Replaces a timeline's entries (sorted newest first, no repeats) and horizon, keeping its TTL.
local function tl_replace(key, entries, h)
  local ttl = redis.call('PTTL', key)
  redis.call('DEL', key)
  for i = 1, #entries, 400 do
    redis.call('RPUSH', key, unpack(entries, i, math.min(i + 399, #entries)))
  end
  redis.call('RPUSH', key, FF8 .. h)
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end

-- Merges `extra` (entries sorted newest first) into a timeline's list: the newest `cap` distinct entries
-- newer than the horizon `h` are kept, and `h` rises to the oldest kept when the cap cut some. Returns how
-- many entries of `extra` the list did not hold. Follow backfills and inbox folds both go through it.
local function tl_merge(key, extra, h, cap)
  local hh, hlo = id_key(flip(h))
  local mine = tl_entries(key)
  local merged, i, j, cut, added = {}, 1, 1, false, 0
  local ak, bk = nil, nil
  while i <= #mine or j <= #extra do
    local a, b = mine[i], extra[j]
    if a and not ak then ak = {id_key(a)} end
    if b and not bk then bk = {id_key(b)} end
    local take, new = nil, false
    if b == nil or (a ~= nil and (ak[1] < bk[1] or (ak[1] == bk[1] and ak[2] < bk[2]))) then
      take, i, ak = a, i + 1, nil
    elseif a == nil or a ~= b then
      take, j, bk, new = b, j + 1, nil, true
    else
      take, i, j, ak, bk = a, i + 1, j + 1, nil, nil
    end
    local tk1, tk2 = id_key(take)
    if tk1 > hh or (tk1 == hh and tk2 >= hlo) then break end -- at or below the horizon: not kept
    if #merged == cap then cut = true; break end
    merged[#merged + 1] = take
    if new then added = added + 1 end
  end
  if cut then
    local low = flip(merged[#merged]:sub(1, 8))
    if gt(low, h) then h = low end
  end
  tl_replace(key, merged, h)
  return added
end

-- Folds a timeline's inbox (a sorted set, newest first) into its list.
local function tl_fold(key, inbox, cap)
  local extra = redis.call('ZRANGE', inbox, 0, -1)
  redis.call('DEL', inbox)
  if #extra > 0 then tl_merge(key, extra, tl_horizon(key), cap) end
end

local function tl_fold_inbox(p, u, cap)
  local inbox = K(p, 'hx', u)
  if redis.call('EXISTS', inbox) == 1 then tl_fold(K(p, 'hl', u), inbox, cap) end
end

-- Puts entry m (its id_key: mh, ml) into user u's materialized timeline `key`; returns 1 if delivered, 0 if
-- the timeline is not materialized (no key) or m is its head already. The newest tweet, the usual case, is one LINDEX and an
-- LPUSH. An older one (another partition's backlog, a redelivery) does not walk the list: if it is older
-- than every entry of a full timeline it would be trimmed, so the horizon rises to it instead (the page
-- continues from Cassandra there); otherwise it goes into the timeline's inbox, a small sorted set
-- (`hx:`) that reads merge in and that is folded into the list once it holds INBOX entries.
local INBOX = 128

local function tl_insert_keyed(p, key, u, m, mh, ml, cap)
  local head = redis.call('LINDEX', key, 0)
  if not head then return 0 end
  if head == m then return 0 end
  local hh, hl = id_key(head)
  if hh > mh or (hh == mh and hl > ml) then
    tl_trim(key, redis.call('LPUSH', key, m), cap)
    return 1
  end
  local n = redis.call('LLEN', key)
  if n - 1 >= cap then
    local tail = redis.call('LINDEX', key, cap - 1)
    local th, tlo = id_key(tail)
    if th < mh or (th == mh and tlo < ml) then -- older than the cap-th entry: it would be trimmed
      tl_raise_horizon(key, flip(m:sub(1, 8)))
      return 1
    end
  end
  local inbox = K(p, 'hx', u)
  if redis.call('ZADD', inbox, 0, m) == 1 then
    local size = redis.call('ZCARD', inbox)
    if size == 1 then
      local ttl = redis.call('PTTL', key)
      if ttl > 0 then redis.call('PEXPIRE', inbox, ttl) end
    elseif size >= INBOX then
      tl_fold(key, inbox, cap)
    end
  end
  return 1
end

-- tl_insert_keyed with the timeline key and the entry's id_key worked out here (the fan-out loop works them
-- out once per tweet).
local function tl_insert(p, u, m, cap)
  local mh, ml = id_key(m)
  return tl_insert_keyed(p, K(p, 'hl', u), u, m, mh, ml, cap)
end

-- Push (projections/push.py). `base` is the base prefix ('' when this pass does not publish); the sorted
-- set base..'online' lists online users (empty or absent: nobody is, and publishing costs one EXISTS).
local function online_index(base)
  if base == '' or base == nil then return nil end
  local index = base .. 'online'
  if redis.call('EXISTS', index) == 0 then return nil end
  return index
end

-- The members of set `fo` whose presence key exists, as a Lua set, walking the smaller of the online
-- index and `fo`: O(min(online users, followers)).
local function online_in(base, index, fo)
  local out = {}
  if redis.call('ZCARD', index) <= redis.call('SCARD', fo) then
    for _, u in ipairs(redis.call('ZRANGE', index, 0, -1)) do
      if redis.call('SISMEMBER', fo, u) == 1 and redis.call('EXISTS', K(base, 'online', u)) == 1 then
        out[u] = true
      end
    end
  else
    for _, u in ipairs(redis.call('SMEMBERS', fo)) do
      if redis.call('EXISTS', K(base, 'online', u)) == 1 then out[u] = true end
    end
  end
  return out
end

-- The members of the list `members` whose presence key exists, as a Lua set, walking the smaller of the
-- online index and the list.
local function online_among(base, index, members)
  local out = {}
  if redis.call('ZCARD', index) <= #members then
    local wanted = {}
    for _, u in ipairs(members) do wanted[u] = true end
    for _, u in ipairs(redis.call('ZRANGE', index, 0, -1)) do
      if wanted[u] and redis.call('EXISTS', K(base, 'online', u)) == 1 then out[u] = true end
    end
  else
    for _, u in ipairs(members) do
      if redis.call('EXISTS', K(base, 'online', u)) == 1 then out[u] = true end
    end
  end
  return out
end

-- The base prefix to publish under for a whole call, or '' when nobody is online anywhere (no online index):
-- then no presence key is looked up per user. On a Redis Cluster the index may be on another node (pcall
-- hands back the refusal): every user's presence key is checked then, as before.
local function publishing(base)
  if base == '' or redis.pcall('EXISTS', base .. 'online') == 0 then return '' end
  return base
end

local function publish_to(base, user, msg)
  redis.call('PUBLISH', K(base, 'push', user), msg)
end

-- Steps several scripts share (the live pass's one-event scripts and record.lua, a rebuild's batches).

-- A tweet recorded in its author's recent list (which always holds its sentinel).
local function record_tweet(p, author, entry, cap)
  local ut = K(p, 'ur', author)
  if redis.call('EXISTS', ut) == 0 then redis.call('ZADD', ut, 0, FF8 .. ZERO8) end
  push(ut, entry, cap)
end

-- A follow, the followee's side: 1 if the followee is a celebrity, 2 if this follow just made them one, else 0.
local function follow_out(p, follower, followee, threshold)
  local fo = K(p, 'fo', followee)
  redis.call('SADD', fo, follower)
  local cb = K(p, 'cb', followee)
  if redis.call('EXISTS', cb) == 1 then return 1 end
  if redis.call('SCARD', fo) > threshold then redis.call('SET', cb, 1); return 2 end
  return 0
end

-- A follow, the follower's sets (`suffix`: the followee as 8 bytes): following again wants deliveries again;
-- a celebrity is merged at read time.
local function follow_sets(p, follower, followee, suffix, celebrity)
  redis.call('SADD', K(p, 'fg', follower), followee)
  redis.call('SREM', K(p, 'uf', follower), suffix)
  if celebrity then redis.call('SADD', K(p, 'fc', follower), followee) end
end

-- An unfollow, the follower's side (see unfollow_in.lua); returns the entries removed from their timeline.
local function unfollow_in(p, follower, followee, suffix, cap, remember)
  redis.call('SREM', K(p, 'fg', follower), followee)
  redis.call('SREM', K(p, 'fc', follower), followee)
  if remember > 0 then
    local uf = K(p, 'uf', follower)
    redis.call('SADD', uf, suffix)
    redis.call('EXPIRE', uf, remember)
  end
  local tl = K(p, 'hl', follower)
  if redis.call('EXISTS', tl) == 0 then return 0 end
  tl_fold_inbox(p, follower, cap)
  local kept = {}
  local all = tl_entries(tl)
  for _, m in ipairs(all) do
    if m:sub(9, 16) ~= suffix then kept[#kept + 1] = m end
  end
  if #kept == #all then return 0 end
  tl_replace(tl, kept, tl_horizon(tl))
  return #all - #kept
end

-- A delete, the author's side: marked deleted (a fan-out planned later skips it) and out of the author's
-- lists. Returns the entries removed.
local function unrecord_tweet(p, author, entry)
  local gone = K(p, 'dl', author)
  redis.call('SADD', gone, entry)
  redis.call('PEXPIRE', gone, 600000)
  local removed = redis.call('ZREM', K(p, 'ur', author), entry)
  removed = removed + redis.call('LREM', K(p, 'hl', author), 1, entry)
  return removed + redis.call('ZREM', K(p, 'hx', author), entry)
end
