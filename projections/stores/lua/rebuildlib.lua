-- Helpers of rebuild.lua and rebuild_part.lua, prepended after lib.lua.

-- The newest `cap` entries of the sorted sets `sources` (authors' recent tweets, newest first; authors'
-- lists never share a tweet), and the horizon: the highest of the sources' horizons, or the oldest entry
-- kept when the cap cut some off. A k-way merge over a heap of the sources, each read a page at a time (its
-- pages doubling): a build reads little more than the entries it keeps, and works out the flipped id (two
-- numbers) only of the entry at the front of each source. A source's horizon matters only when it is read to
-- its end (the sentinel, last, comes with that page): one left unfinished means the cap cut entries older
-- than every one kept, and the horizon rises to the oldest kept, above that source's own. The heap is three
-- parallel arrays, sifted inline: a function call per comparison cost more than the rest of the build.
local function gather(sources, cap)
  local h = ZERO8
  local first = math.min(cap, math.max(8, math.ceil(cap / math.max(#sources, 1))))
  local src = {} -- per source: {key, entries, position, read so far, next page size, more to read}
  local function fetch(s) -- the source's next page; false when it has no more entries
    if not s[6] then return false end
    local e = redis.call('ZRANGEBYLEX', s[1], '-', '+', 'LIMIT', s[4], s[5])
    s[6] = #e == s[5]
    s[2], s[3], s[4], s[5] = e, 1, s[4] + #e, math.min(s[5] * 2, cap)
    local last = e[#e]
    if last ~= nil and last:sub(1, 8) == FF8 then -- the sentinel: the end of the list, and its horizon
      e[#e] = nil
      s[6] = false
      local sh = last:sub(9, 16)
      if gt(sh, h) then h = sh end
    end
    return #e > 0
  end
  local hi, lo, at, n = {}, {}, {}, 0 -- the heap: the front entry's key (hi, lo) and its source, newest on top
  local function down(k)
    local khi, klo, kat = hi[k], lo[k], at[k]
    while true do
      local c = 2 * k
      if c > n then break end
      if c < n and (hi[c + 1] < hi[c] or (hi[c + 1] == hi[c] and lo[c + 1] < lo[c])) then c = c + 1 end
      if khi < hi[c] or (khi == hi[c] and klo < lo[c]) then break end
      hi[k], lo[k], at[k] = hi[c], lo[c], at[c]
      k = c
    end
    hi[k], lo[k], at[k] = khi, klo, kat
  end
  for _, key in ipairs(sources) do
    local s = {key, nil, 1, 0, first, true}
    if fetch(s) then
      n = n + 1
      src[n] = s
      hi[n], lo[n] = id_key(s[2][1])
      at[n] = n
    end
  end
  for k = math.floor(n / 2), 1, -1 do down(k) end
  local entries, m = {}, 0
  while m < cap and n > 0 do
    local s = src[at[1]]
    local i = s[3]
    m = m + 1
    entries[m] = s[2][i]
    i = i + 1
    s[3] = i
    if i <= #s[2] or fetch(s) then
      hi[1], lo[1] = id_key(s[2][s[3]])
    else
      hi[1], lo[1], at[1] = hi[n], lo[n], at[n]
      hi[n], lo[n], at[n] = nil, nil, nil
      n = n - 1
    end
    if n > 1 then down(1) end
  end
  if n > 0 and m > 0 then -- some entries were left out: older ones are not complete
    local oldest = flip(entries[m]:sub(1, 8))
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
