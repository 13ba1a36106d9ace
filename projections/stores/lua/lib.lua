-- Shared helpers, prepended to every chirp script. Keys are built inside the scripts from a
-- prefix, so chirp's scripts expect one Redis (not a cluster); see docs/architecture.md.
-- A materialized sorted set (a home timeline or an author's recent tweets) always holds a
-- sentinel member: 8 zero bytes then the 8-byte "horizon" id. Entries newer than the horizon are
-- complete; older ones may have been trimmed, and readers go to Cassandra for them.
local ZERO8 = string.rep('\0', 8)

local function gt(a, b) -- bytewise a > b for equal-length strings (no locale-dependent compare)
  for i = 1, #a do
    local x, y = a:byte(i), b:byte(i)
    if x ~= y then return x > y end
  end
  return false
end

local function horizon(key)
  local s = redis.call('ZRANGE', key, 0, 0)[1]
  if s == nil or s:sub(1, 8) ~= ZERO8 then return ZERO8 end
  return s:sub(9, 16)
end

local function raise_horizon(key, h)
  local s = redis.call('ZRANGE', key, 0, 0)[1]
  if s ~= nil and s:sub(1, 8) == ZERO8 then
    if not gt(h, s:sub(9, 16)) then return end
    redis.call('ZREM', key, s)
  end
  redis.call('ZADD', key, 0, ZERO8 .. h)
end

-- A set may overshoot its cap by an eighth before it is cut back to the cap: trimming (and moving
-- the horizon) rewrites the whole listpack, so it happens once per cap/8 pushes, not on every push.
local function trim(key, cap)
  local n = redis.call('ZCARD', key)
  if n > cap + 1 + math.floor(cap / 8) then
    redis.call('ZREMRANGEBYRANK', key, 1, n - cap - 1)
    local low = redis.call('ZRANGE', key, 1, 1)[1]
    raise_horizon(key, low:sub(1, 8))
  end
end

local function push(key, member, cap)
  redis.call('ZADD', key, 0, member)
  trim(key, cap)
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
      if redis.call('SISMEMBER', fo, u) == 1 and redis.call('EXISTS', base .. 'online:' .. u) == 1 then
        out[u] = true
      end
    end
  else
    for _, u in ipairs(redis.call('SMEMBERS', fo)) do
      if redis.call('EXISTS', base .. 'online:' .. u) == 1 then out[u] = true end
    end
  end
  return out
end

local function publish_to(base, user, msg)
  redis.call('PUBLISH', base .. 'push:' .. user, msg)
end
