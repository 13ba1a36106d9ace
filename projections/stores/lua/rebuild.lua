-- Materialize a home timeline (fan-out on read, inside Redis, atomically with respect to the worker's
-- writes). ARGV: prefix, user, cap (the newest entries it gets: CHIRP_REBUILD_ENTRIES), ttl seconds, chunk,
-- build ttl (ms). Returns 1 if built, 0 if
-- it existed (or is being built), 2 if built from the user's own tweets only and marked as being built: the
-- user follows more than `chunk` accounts, and rebuild_part.lua merges them in, `chunk` at a time, so that
-- no call holds Redis for long. Until the last part, reads treat the timeline as not materialized (they go
-- to Cassandra), and it and its mark expire after `build ttl` (a builder that died leaves nothing behind);
-- deliveries reach it meanwhile, as any timeline, so nothing posted during the build is missed.
local p, user, cap, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local chunk, build_ms = tonumber(ARGV[5]), tonumber(ARGV[6])
local tl = K(p, 'hl', user)
local mark = K(p, 'hb', user)
if redis.call('EXISTS', mark) == 1 then return 0 end
if redis.call('EXISTS', tl) == 1 then redis.call('EXPIRE', tl, ttl); return 0 end
redis.call('DEL', K(p, 'hx', user)) -- an inbox left by a timeline that expired
local sources = {K(p, 'ur', user)}
local fg = K(p, 'fg', user)
local parts = redis.call('SCARD', fg) > chunk
if not parts then
  for _, x in ipairs(redis.call('SMEMBERS', fg)) do sources[#sources + 1] = K(p, 'ur', x) end
end
local entries, h = gather(sources, cap)
tl_replace(tl, entries, h)
if parts then
  redis.call('SET', mark, 1, 'PX', build_ms)
  redis.call('PEXPIRE', tl, build_ms)
  return 2
end
redis.call('EXPIRE', tl, ttl)
return 1
