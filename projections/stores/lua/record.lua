-- A bulk rebuild's record-only pass (projections/stores/redis_record.py): a batch's changes to the keys this
-- node serves, many events per call, in log order. The live pass's scripts do the same per event (fanout.lua
-- 'record' without fan-out, follow.lua, unfollow.lua, unpush.lua, follow_in.lua, unfollow_in.lua) with the
-- same steps from lib.lua; one call here saves a script invocation and a reply per event, which cost Redis
-- more than the writes themselves.
-- ARGV: prefix, cap, threshold, then the ops, each an opcode and its arguments:
--   T tweet author content micros reply_to media   the tweet's hash (the hydration cache)
--   E tweet content micros                          an edit of it;  D tweet: its delete mark
--   R reply_to tweet / r reply_to tweet             a reply counted / no longer (a delete)
--   L tweet user / l tweet user                     a like / an unlike
--   P author entry                                  recorded in the author's list and own timeline (if any)
--   X author entry                                  a delete, the author's side        -> the followers
--   F follower followee                             a follow, the followee's side      -> 0, 1 celebrity, 2 made one
--   U follower followee                             an unfollow, the followee's side
--   G follower followee suffix celebrity(0/1)       a follow, the follower's side
--   g follower followee suffix remember(s)          an unfollow, the follower's side
--   S user handle name / H key user / Z key member  a user's hash, its handle's owner (keys.py names the key),
--                                                   the handle index
-- Returns {deliveries (own timelines), then one answer per F and X, in order}.
local p, cap, threshold = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local out = {0}
local i, n = 4, #ARGV
while i <= n do
  local op, a, b = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if op == 'T' then
    redis.call('HSET', K(p, 't', a), 'a', b, 'c', ARGV[i + 3], 'ts', ARGV[i + 4], 'r', ARGV[i + 5], 'm', ARGV[i + 6])
    i = i + 7
  elseif op == 'P' then
    record_tweet(p, a, b, cap)
    out[1] = out[1] + tl_insert(p, a, b, cap)
    i = i + 3
  elseif op == 'F' then
    out[#out + 1] = follow_out(p, a, b, threshold)
    i = i + 3
  elseif op == 'G' then
    follow_sets(p, a, b, ARGV[i + 3], ARGV[i + 4] == '1')
    i = i + 5
  elseif op == 'L' then
    redis.call('SADD', K(p, 'lk', a), b)
    i = i + 3
  elseif op == 'l' then
    redis.call('SREM', K(p, 'lk', a), b)
    i = i + 3
  elseif op == 'R' then
    redis.call('SADD', K(p, 'rp', a), b)
    i = i + 3
  elseif op == 'r' then
    redis.call('SREM', K(p, 'rp', a), b)
    i = i + 3
  elseif op == 'U' then
    redis.call('SREM', K(p, 'fo', b), a)
    i = i + 3
  elseif op == 'g' then
    unfollow_in(p, a, b, ARGV[i + 3], cap, tonumber(ARGV[i + 4]))
    i = i + 5
  elseif op == 'E' then
    redis.call('HSET', K(p, 't', a), 'c', b, 'e', ARGV[i + 3])
    i = i + 4
  elseif op == 'D' then
    redis.call('HSET', K(p, 't', a), 'd', 1)
    i = i + 2
  elseif op == 'X' then
    unrecord_tweet(p, a, b)
    out[#out + 1] = redis.call('SMEMBERS', K(p, 'fo', a))
    i = i + 3
  elseif op == 'S' then
    redis.call('HSET', K(p, 'u', a), 'h', b, 'n', ARGV[i + 3])
    i = i + 4
  elseif op == 'H' then
    redis.call('SET', a, b)
    i = i + 3
  elseif op == 'Z' then
    redis.call('ZADD', a, 0, b)
    i = i + 3
  else
    return redis.error_reply('record.lua: unknown op ' .. tostring(op))
  end
end
return out
