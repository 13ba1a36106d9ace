-- An edited tweet told to its author and the author's followers who are online now (Mastodon's streams send it
-- as `status.update`). On the author's node. ARGV: prefix, author, base prefix to publish under, the "edit"
-- message cut before its author (projections/wire.py edit_head), then users online now (from the online index).
-- Returns how many were told.
local p, author, base, head = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local fo = K(p, 'fo', author)
local u = redis.call('HMGET', K(p, 'u', author), 'h', 'n')
local a = 'null'
if u[1] then
  a = '{"user_id":"' .. author .. '","handle":' .. cjson.encode(u[1]) .. ',"display_name":' .. cjson.encode(u[2]) .. '}'
end
local msg = head .. a .. '}}'
local told = 0
for i = 5, #ARGV do
  if ARGV[i] == author or redis.call('SISMEMBER', fo, ARGV[i]) == 1 then publish_to(base, ARGV[i], msg); told = told + 1 end
end
return told
