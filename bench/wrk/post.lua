-- POST /tweets as a rotating set of users (acks=all: each 201 means Kafka has the event).
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local users = common.load()
local i = math.random(#users)
local n = 0

request = function()
  i = i % #users + 1
  n = n + 1
  local u = users[i]
  local body = '{"user_id": "' .. u.id .. '", "content": "bench post ' .. n .. ' #bench"}'
  return wrk.format("POST", "/tweets", {["Authorization"] = "Bearer " .. u.token,
                                        ["Content-Type"] = "application/json"}, body)
end

done = common.done
