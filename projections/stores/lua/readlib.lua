-- Read-side helpers, prepended (after lib.lua) to read.lua, hydrate.lua and home.lua.

-- On a Redis Cluster a read script runs on the reader's node (or a tweet's), and some of what it reads
-- (a celebrity's list, a tweet, its author) may be served by another node: Redis refuses a command on such
-- a key, and redis.pcall hands the refusal back. `here` returns nil for it, so the script does what is local
-- and reports the rest, which the caller fetches from the other nodes. On one Redis everything is local.
-- Any other error is raised as before.
local function here(...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then
    if string.find(r.err, 'non local key', 1, true) then return nil end
    error(r)
  end
  return r
end

-- What a hydration slot holds for a tweet or an author served by another node (never an id or a handle).
local ELSEWHERE = '\0'

-- At most `limit` entries of a timeline (a list sorted newest first) strictly between the bounds `lo`
-- (older than `before`: entries above it) and `hi` (newer than `after`: entries below it), given as
-- flipped ids ('' for none). Without `before` the page starts at the head; with it the list is walked
-- from the head in growing chunks to the first entry past the bound.
local function tl_page(key, lo, hi, limit)
  local out = {}
  local at, step = 0, limit
  if lo ~= '' then
    local bound = lo .. FF8
    at, step = -1, 64
    local from = 0
    while at < 0 do
      local chunk = redis.call('LRANGE', key, from, from + step - 1)
      if #chunk == 0 then return out end
      for i, e in ipairs(chunk) do
        if gt(e, bound) then at = from + i - 1; break end
      end
      from, step = from + #chunk, step * 2
    end
    step = limit
  end
  local chunk = redis.call('LRANGE', key, at, at + step - 1)
  for _, e in ipairs(chunk) do
    if e:sub(1, 8) == FF8 then break end
    if hi ~= '' and not gt(hi, e:sub(1, 8)) then break end
    out[#out + 1] = e
  end
  return out
end

-- One page (at most limit + 1 members, below `before` and above `after`: '' / nil or exclusive 8-byte ids)
-- of each source of a home timeline: the user's `tl`, then the `ut` of every celebrity they follow, as
-- {horizon, members}. nil when the timeline is not materialized; otherwise reading refreshes its TTL.
local function home_sources(p, user, before, limit, ttl, after)
  local tl = K(p, 'hl', user)
  if redis.call('EXISTS', tl) == 0 then return nil end
  if redis.call('EXISTS', K(p, 'hb', user)) == 1 then return nil end -- being rebuilt (rebuild.lua)
  redis.call('EXPIRE', tl, ttl)
  -- Entries sort newest first (complemented ids): older than `before` is above flip(before) and every
  -- author; newer than `after` is below flip(after); the sentinel (FF8 ..) is past every entry.
  local lo, hi = '', ''
  if before ~= '' then lo = flip(before) end
  if after ~= nil and after ~= '' then hi = flip(after) end
  local sources = {{tl_horizon(tl), tl_page(tl, lo, hi, limit + 1)}}
  local min, max = '-', '(' .. FF8
  if lo ~= '' then min = '(' .. lo .. FF8 end
  if hi ~= '' then max = '(' .. hi end
  local inbox = K(p, 'hx', user) -- late entries not folded into the list yet (lib.lua tl_insert)
  if redis.call('EXPIRE', inbox, ttl) == 1 then
    sources[2] = {ZERO8, redis.call('ZRANGEBYLEX', inbox, min, max, 'LIMIT', 0, limit + 1)}
  end
  local elsewhere = {} -- celebrities whose lists another node serves
  for _, c in ipairs(redis.call('SMEMBERS', K(p, 'fc', user))) do
    local key = K(p, 'ur', c)
    local page = here('ZRANGEBYLEX', key, min, max, 'LIMIT', 0, limit + 1)
    if page then sources[#sources + 1] = {horizon(key), page} else elsewhere[#elsewhere + 1] = c end
  end
  return sources, elsewhere
end

-- {2, n, the n celebrities served elsewhere, then each source's horizon and members, sources split by ''}:
-- what a page has here when part of it is on other nodes (read.lua's layout after the count).
local function sources_reply(status, sources, elsewhere)
  local out = {status, #elsewhere}
  for _, c in ipairs(elsewhere) do out[#out + 1] = c end
  for i, s in ipairs(sources) do
    if i > 1 then out[#out + 1] = '' end
    out[#out + 1] = s[1]
    for _, m in ipairs(s[2]) do out[#out + 1] = m end
  end
  return out
end

-- Appends what a page shows of tweet t (decimal id) to out: 7 fields of t:{t} (author, content, created,
-- reply_to, edited, media, deleted), like count, reply count, and the handle and display name of
-- author a (decimal; nil: the author field of t:{t}). `users`, if given, memoizes authors within a call.
-- A tweet another node serves fills its 11 values with ELSEWHERE then nothing; an author served elsewhere
-- gets ELSEWHERE as its handle.
local function hydrate(out, p, t, a, users)
  local f = here('HMGET', K(p, 't', t), 'a', 'c', 'ts', 'r', 'e', 'm', 'd')
  if f == nil then
    out[#out + 1] = ELSEWHERE
    for _ = 2, 11 do out[#out + 1] = false end
    return
  end
  for i = 1, 7 do out[#out + 1] = f[i] end
  out[#out + 1] = redis.call('SCARD', K(p, 'lk', t))
  out[#out + 1] = redis.call('SCARD', K(p, 'rp', t))
  a = a or f[1]
  local u = {false, false}
  if a then
    u = users and users[a] or here('HMGET', K(p, 'u', a), 'h', 'n') or {ELSEWHERE, false}
    if users then users[a] = u end
  end
  out[#out + 1] = u[1]
  out[#out + 1] = u[2]
end

-- The first 8 bytes of s (a big-endian id) as two exact numbers, its high and low 32 bits: Lua
-- numbers are doubles, exact to 2^53 only, so 64-bit ids are compared and printed in halves.
local function halves(s)
  local b1, b2, b3, b4, b5, b6, b7, b8 = s:byte(1, 8)
  return ((b1 * 256 + b2) * 256 + b3) * 256 + b4, ((b5 * 256 + b6) * 256 + b7) * 256 + b8
end

-- hi * 2^32 + lo (hi < 2^31) in decimal, from limbs of 10^8 that stay exact:
-- hi = a * 2^16 + c, 2^48 = 2814749 * 10^8 + 76710656, 2^32 = 42 * 10^8 + 94967296.
local function decimal(hi, lo)
  local a, c = math.floor(hi / 65536), hi % 65536
  local top, low = a * 2814749 + c * 42, a * 76710656 + c * 94967296 + lo
  local carry = math.floor(low / 1e8)
  top, low = top + carry, low - carry * 1e8
  if top > 0 then return string.format('%d%08d', top, low) end
  return string.format('%d', low)
end
