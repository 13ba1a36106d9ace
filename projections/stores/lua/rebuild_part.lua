-- One part of a timeline rebuild that rebuild.lua left marked as being built. ARGV: prefix, user, cap,
-- ttl seconds, last (1 or 0), then at most a chunk of followee ids. Followees unfollowed since the builder
-- listed them are skipped; the others' recent tweets are merged into the timeline, whose horizon rises to
-- theirs. The last part clears the mark and gives the timeline its usual TTL. Returns 1, or 0 when the
-- build was abandoned (its mark expired): the next read starts again.
local p, user, cap, ttl, last = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5] == '1'
local tl = K(p, 'hl', user)
local mark = K(p, 'hb', user)
if redis.call('EXISTS', mark) == 0 or redis.call('EXISTS', tl) == 0 then return 0 end
local fg = K(p, 'fg', user)
local sources = {}
for i = 6, #ARGV do
  if redis.call('SISMEMBER', fg, ARGV[i]) == 1 then sources[#sources + 1] = K(p, 'ur', ARGV[i]) end
end
local entries, h = gather(sources, cap)
build_step(p, user, tl, mark, entries, h, cap, ttl, last)
return 1
