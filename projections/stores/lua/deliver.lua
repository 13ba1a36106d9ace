-- Deliveries of one tweet to the home timelines this node serves (the worker sends each node its part, a
-- chunk at a time). ARGV: prefix, entry, cap, base prefix to publish under ('' when nobody is online), the
-- "update" message, then the users. A user whose presence key exists gets the message, in the same script as
-- the delivery, so a subscriber that reads the timeline after subscribing misses nothing.
-- Returns the deliveries made.
local p, entry, cap, base, msg = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local mh, ml = id_key(entry)
local delivered = 0
local hl = p .. 'hl:{' -- K(p, 'hl', u), the concatenation split so that the loop does one
for i = 6, #ARGV do
  local u = ARGV[i]
  if tl_insert_keyed(p, hl .. u .. '}', u, entry, mh, ml, cap) == 1 then
    delivered = delivered + 1
    if base ~= '' and redis.call('EXISTS', K(base, 'online', u)) == 1 then publish_to(base, u, msg) end
  end
end
return delivered
