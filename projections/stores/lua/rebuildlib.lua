-- Helpers of rebuild.lua and rebuild_part.lua, prepended after lib.lua.

-- The newest `cap` entries of the sorted sets `sources` (authors' recent tweets, newest first; authors'
-- lists never share a tweet), merged pairwise, comparing each entry's flipped id as two numbers computed
-- once; and the horizon: the highest of the sources' horizons, or the oldest entry kept when the cap cut
-- some off.
local function gather(sources, cap)
  local h = ZERO8
  local runs = {} -- each {entries, high parts, low parts}, newest first
  local cut = false
  for _, src in ipairs(sources) do
    local sh = horizon(src)
    if gt(sh, h) then h = sh end
    local e = redis.call('ZRANGEBYLEX', src, '-', '(' .. FF8, 'LIMIT', 0, cap + 1)
    if #e > cap then e[#e] = nil; cut = true end
    if #e > 0 then
      local hi, lo = {}, {}
      for i, m in ipairs(e) do hi[i], lo[i] = id_key(m) end
      runs[#runs + 1] = {e, hi, lo}
    end
  end
  local function merge(a, b)
    local e, hi, lo = {}, {}, {}
    local i, j, n = 1, 1, 0
    local ae, ah, al, be, bh, bl = a[1], a[2], a[3], b[1], b[2], b[3]
    while n < cap and (i <= #ae or j <= #be) do
      n = n + 1
      if j > #be or (i <= #ae and (ah[i] < bh[j] or (ah[i] == bh[j] and al[i] < bl[j]))) then
        e[n], hi[n], lo[n] = ae[i], ah[i], al[i]; i = i + 1
      else
        e[n], hi[n], lo[n] = be[j], bh[j], bl[j]; j = j + 1
      end
    end
    if i <= #ae or j <= #be then cut = true end
    return {e, hi, lo}
  end
  while #runs > 1 do
    local next_runs = {}
    for k = 1, #runs, 2 do
      if runs[k + 1] then next_runs[#next_runs + 1] = merge(runs[k], runs[k + 1]) else next_runs[#next_runs + 1] = runs[k] end
    end
    runs = next_runs
  end
  local entries = {}
  if #runs == 1 then entries = runs[1][1] end
  if cut and #entries > 0 then
    local oldest = flip(entries[#entries]:sub(1, 8))
    if gt(oldest, h) then h = oldest end
  end
  return entries, h
end

-- Merges a part's entries (newest first, with the horizon `h` of their sources) into a timeline being built;
-- the last part clears the build mark and gives the timeline and its inbox their usual TTL.
local function build_step(p, user, tl, mark, entries, h, cap, ttl, last)
  local mine = tl_horizon(tl)
  if gt(mine, h) then h = mine end
  tl_merge(tl, entries, h, cap)
  if last then
    redis.call('DEL', mark)
    redis.call('EXPIRE', tl, ttl)
    redis.call('EXPIRE', K(p, 'hx', user), ttl)
  end
end
