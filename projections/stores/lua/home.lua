-- One page of a home timeline ready to show, in one round trip (read.lua and hydrate.lua together).
-- ARGV: prefix, user, upper bound ('' or an exclusive 8-byte id), limit, ttl, lower bound (optional: ''
-- or an exclusive 8-byte id; `since` polling, which then needs nothing older than it), entries only
-- (optional: '1' for a reader that keeps its own views, redis_views.py, and hydrates only what it lacks).
-- Returns {0} when the timeline is not materialized, else {1, horizon, n, entry 1..n, 11 values per
-- entry as hydrate.lua gives them, unless entries only}: the newest `limit` distinct entries of all
-- sources that are newer than the highest horizon (below it a source may be incomplete; the caller
-- continues elsewhere). On a Redis Cluster, when a celebrity's list is on another node: read.lua's reply
-- with status 2 (the caller merges and hydrates); a tweet or author on another node is marked ELSEWHERE
-- in its values.
local p, limit = ARGV[1], tonumber(ARGV[4])
local sources, elsewhere = home_sources(p, ARGV[2], ARGV[3], limit, tonumber(ARGV[5]), ARGV[6])
if sources == nil then return {0} end
if #elsewhere > 0 then return sources_reply(2, sources, elsewhere) end
local h, merged = sources[1][1], sources[1][2] -- one source is already newest first, without repeats
if #sources > 1 then
  -- Every source is sorted newest first: a k-way merge on the entries' flipped ids (two numbers each,
  -- computed once) takes the newest `limit` distinct ones, with no comparison sort.
  local heads, pos = {}, {}
  for i, s in ipairs(sources) do
    if gt(s[1], h) then h = s[1] end
    pos[i] = 1
    if s[2][1] then heads[i] = {id_key(s[2][1])} end
  end
  local seen = {}
  merged = {}
  while #merged < limit + 1 do
    local best = nil
    for i, k in pairs(heads) do
      if best == nil or k[1] < heads[best][1] or (k[1] == heads[best][1] and k[2] < heads[best][2]) then best = i end
    end
    if best == nil then break end
    local list = sources[best][2]
    local m = list[pos[best]]
    if not seen[m] then
      seen[m] = true
      merged[#merged + 1] = m
    end
    pos[best] = pos[best] + 1
    local nxt = list[pos[best]]
    if nxt then heads[best] = {id_key(nxt)} else heads[best] = nil end
  end
end
local out, ids = {1, h, 0}, {}
local hh, hl = halves(h)
local views = ARGV[7] ~= '1'
for _, m in ipairs(merged) do
  if out[3] == limit then break end
  local mh, ml = halves(flip(m))
  if mh < hh or (mh == hh and ml <= hl) then break end
  out[#out + 1] = m
  out[3] = out[3] + 1
  if views then ids[#ids + 1] = decimal(mh, ml) end
end
local users = {}
for _, t in ipairs(ids) do hydrate(out, p, t, nil, users) end
return out
