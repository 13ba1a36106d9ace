-- A batch's deliveries to the home timelines this node serves, grouped by follower: every tweet of the batch
-- that a follower gets reaches them in this one visit, so their timeline is looked up and its head read once,
-- and the entries newer than the head go in with one LPUSH (oldest first: the newest ends at the head),
-- whatever the number of tweets. An entry not newer than the head (another partition's late record, a
-- redelivery) takes the single-entry path, tl_insert_keyed: the head itself is skipped, an older entry goes
-- to the inbox or raises the horizon.
-- ARGV: prefix, cap, base prefix to publish under ('' for none), then for each follower: the user and their
-- entries sorted oldest first, distinct, as one string (16 bytes each: one argument, whatever their number).
-- Returns {deliveries, then for each follower online now who got entries: the user, k, the k entries}; the
-- worker publishes their "update" messages right after (a subscriber that reads its timeline after
-- subscribing misses nothing; one that reads in between may see a tweet twice, as before).
local p, cap, base = ARGV[1], tonumber(ARGV[2]), publishing(ARGV[3])
local function newer_than(hh, hlo, e) -- whether entry e is newer than the head whose id_key is hh, hlo
  local mh, ml = id_key(e)
  return hh > mh or (hh == mh and hlo > ml)
end
local out, delivered = {0}, 0
local hl = p .. 'hl:{' -- K(p, 'hl', u), the concatenation split so that the loop does one
local uf = p .. 'uf:{'
for i = 4, #ARGV, 2 do
  local u, blob = ARGV[i], ARGV[i + 1]
  local n = #blob / 16
  local key = hl .. u .. '}'
  local head = redis.call('LINDEX', key, 0)
  local entries = {}
  if head then -- else not materialized: its first read builds it from the authors' lists
    for j = 1, n do entries[j] = blob:sub(16 * j - 15, 16 * j) end
    local gone = uf .. u .. '}' -- authors unfollowed after the fan-out planned these (unfollow_in.lua)
    if redis.call('EXISTS', gone) == 1 then
      local kept = {}
      for _, e in ipairs(entries) do
        if redis.call('SISMEMBER', gone, e:sub(9, 16)) == 0 then kept[#kept + 1] = e end
      end
      entries, n = kept, #kept
    end
  end
  if head and n > 0 then
    local hh, hlo = id_key(head)
    local newer = 1 -- the entries newer than the head are a suffix (oldest first): usually all of them
    if not newer_than(hh, hlo, entries[1]) then
      newer = n + 1
      while newer > 1 and newer_than(hh, hlo, entries[newer - 1]) do newer = newer - 1 end
    end
    local got = {} -- the late entries delivered (for an online follower, the newer ones are added after)
    for j = 1, newer - 1 do
      local mh, ml = id_key(entries[j])
      if tl_insert_keyed(p, key, u, entries[j], mh, ml, cap) == 1 then got[#got + 1] = entries[j] end
    end
    local count = #got
    if newer <= n then
      tl_trim(key, redis.call('LPUSH', key, unpack(entries, newer, n)), cap)
      count = count + n - newer + 1
    end
    delivered = delivered + count
    if base ~= '' and count > 0 and redis.call('EXISTS', K(base, 'online', u)) == 1 then
      for j = newer, n do got[#got + 1] = entries[j] end
      out[#out + 1] = u
      out[#out + 1] = #got
      for _, e in ipairs(got) do out[#out + 1] = e end
    end
  end
end
out[1] = delivered
return out
