-- A deleted tweet taken out of the home timelines this node serves. ARGV: prefix, entry, base prefix to
-- publish under ('' for none), the "delete" message, then the users. Online users get the message.
-- Returns entries removed.
local p, entry, base, msg = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local removed = 0
base = publishing(base)
for i = 5, #ARGV do
  local u = ARGV[i]
  removed = removed + redis.call('LREM', K(p, 'hl', u), 1, entry) + redis.call('ZREM', K(p, 'hx', u), entry)
  if base ~= '' and redis.call('EXISTS', K(base, 'online', u)) == 1 then publish_to(base, u, msg) end
end
return removed
