-- A tweet was deleted: the author's side, on the author's node. ARGV: prefix, author, entry, base prefix to
-- publish under ('' for none), the "delete" message. Marks it deleted (a fan-out planned later skips it),
-- removes it from the author's lists and tells the author. Returns {entries removed, then the followers},
-- whose timelines undeliver.lua cleans node by node (celebrity or not: it may have been pushed before the
-- account crossed the threshold).
local p, author, entry = ARGV[1], ARGV[2], ARGV[3]
local base, msg = ARGV[4] or '', ARGV[5]
local removed = unrecord_tweet(p, author, entry)
if base ~= '' and redis.call('EXISTS', K(base, 'online', author)) == 1 then publish_to(base, author, msg) end
local out = {removed}
for _, f in ipairs(redis.call('SMEMBERS', K(p, 'fo', author))) do out[#out + 1] = f end
return out
