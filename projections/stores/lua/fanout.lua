-- A tweet was posted. ARGV: prefix, author, entry, cap, celebrity threshold, push (1, or 0 to only
-- record the tweet in the author's list: a bulk rebuild leaves home timelines to their first read),
-- base prefix to publish under ('' for none: only the live version's pass publishes), the "update"
-- message cut before its author (projections/wire.py update_head; the author is filled in here),
-- the step, the chunk size, and the tweet id (decimal).
-- Step 'record' (in log order, with the rest of the batch) records the tweet in the author's list and decides
-- whether the author is a celebrity: accounts above the threshold become celebrities (sticky) and are merged
-- at read time instead of pushed; their online followers still get the "update" message. It returns 'plan'
-- (or 'done' in a rebuild's pass, which only records and puts the tweet on the author's own timeline).
-- Step 'plan' comes after the rest of the batch (so it sees its follows, unfollows and deletes): it returns
-- 'done' (a tweet deleted meanwhile), 'own' (only the author's timeline), 'all' (one chunk holds every
-- follower) or the number of chunks K, having copied the follower set to a list. Steps 'own', 'all' and
-- '0'..'K-1' deliver (the first of them to the author's timeline too); the worker sends them oldest tweet
-- first and every chunk of a tweet before the next tweet's, so that each delivery is newer than the head of
-- the timelines it reaches (an LPUSH), and no call holds Redis for more than one chunk. Publishing happens
-- in the same script as the delivery, so a subscriber that reads the timeline after subscribing misses
-- nothing.
-- Returns {deliveries, celebrity (0/1; the plan: the followers), next step}.
local p, author, entry = ARGV[1], ARGV[2], ARGV[3]
local cap, threshold, fan = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
local base, head = ARGV[7] or '', ARGV[8]
local step, chunk, tweet = ARGV[9], tonumber(ARGV[10]), ARGV[11]
local publish = fan and base ~= ''
local msg = nil
local function update()
  if msg == nil then
    local u = redis.call('HMGET', K(p, 'u', author), 'h', 'n')
    local a = 'null'
    if u[1] then
      a = '{"user_id":"' .. author .. '","handle":' .. cjson.encode(u[1]) .. ',"display_name":' .. cjson.encode(u[2]) .. '}'
    end
    msg = head .. a .. '}}'
  end
  return msg
end
local fo = K(p, 'fo', author)
local delivered = 0
-- The author's own timeline (in every pass, with the first delivery step, so that it too gets tweets in order).
local function deliver_own()
  if tl_insert(p, author, entry, cap) == 1 then
    delivered = 1
    if publish and redis.call('EXISTS', K(base, 'online', author)) == 1 then publish_to(base, author, update()) end
  end
end
if step == 'record' then
  record_tweet(p, author, entry, cap)
  if not fan then -- a rebuild's pass: no deliveries follow
    deliver_own()
    return {delivered, 0, 'done'}
  end
  local cb = K(p, 'cb', author)
  local celebrity = redis.call('EXISTS', cb) == 1
  local promoted = 0
  if not celebrity and redis.call('SCARD', fo) > threshold then
    redis.call('SET', cb, 1)
    celebrity, promoted = true, 1
  end
  -- A celebrity's online followers are told by celebpush.lua, which the worker sends with the online users.
  return {0, celebrity and 1 or 0, 'plan', promoted}
end
if step == 'plan' then
  -- After the rest of the batch (so it sees its follows, unfollows and deletes): who gets the tweet. A
  -- celebrity's followers merge it at read time. Returns {0, n, 'deliver' or 'done', the update message (''
  -- when nobody is online), then the author and its n followers}: the worker groups them by the node that
  -- serves their timelines and sends each node its part in chunks (deliver.lua), oldest tweet first.
  -- Deleted meanwhile: unpush.lua marked it on the author's node, where this runs.
  if redis.call('SISMEMBER', K(p, 'dl', author), entry) == 1 then return {0, 0, 'done'} end
  local members = {}
  if redis.call('EXISTS', K(p, 'cb', author)) == 0 then members = redis.call('SMEMBERS', fo) end
  local out = {0, #members, 'deliver', publish and update() or '', author}
  for _, f in ipairs(members) do out[#out + 1] = f end
  return out
end
return {0, 0, 'done'}
