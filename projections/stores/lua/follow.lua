-- follower started following followee. ARGV: prefix, follower, followee, cap, threshold.
-- Backfills the followee's recent tweets into a materialized timeline (not for celebrities: their
-- tweets are merged at read time): one merge of two lists sorted newest first, the newest `cap` kept.
-- Returns the number of entries backfilled.
local p, follower, followee = ARGV[1], ARGV[2], ARGV[3]
local cap, threshold = tonumber(ARGV[4]), tonumber(ARGV[5])
local fo = p .. 'fo:' .. followee
redis.call('SADD', fo, follower)
redis.call('SADD', p .. 'fg:' .. follower, followee)
local celebs = p .. 'celebs'
if redis.call('SISMEMBER', celebs, followee) == 1 then return 0 end
if redis.call('SCARD', fo) > threshold then redis.call('SADD', celebs, followee); return 0 end
local tl = p .. 'hl:' .. follower
if redis.call('EXISTS', tl) == 0 then return 0 end
local ut = p .. 'ur:' .. followee
local theirs = redis.call('ZRANGEBYLEX', ut, '-', '(' .. FF8, 'LIMIT', 0, cap) -- newest first, no sentinel
if #theirs == 0 then return 0 end
tl_fold_inbox(p, follower, cap)
local h = tl_horizon(tl)
local uh = horizon(ut)
if gt(uh, h) then h = uh end
local mine = tl_entries(tl)
local merged, i, j, added = {}, 1, 1, 0
while #merged < cap and (i <= #mine or j <= #theirs) do
  local a, b = mine[i], theirs[j]
  if b == nil or (a ~= nil and gt(b, a)) then
    merged[#merged + 1] = a; i = i + 1
  elseif a == nil or gt(a, b) then
    merged[#merged + 1] = b; j = j + 1; added = added + 1
  else
    merged[#merged + 1] = a; i = i + 1; j = j + 1
  end
end
if i <= #mine or j <= #theirs then -- the cap cut some off: entries are complete above the oldest kept
  local low = flip(merged[#merged]:sub(1, 8))
  if gt(low, h) then h = low end
end
tl_replace(tl, merged, h)
return added
