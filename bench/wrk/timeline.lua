-- GET /timeline for a rotating set of users, each with their own bearer token.
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local users = common.load()
local i = math.random(#users)

request = function()
  i = i % #users + 1
  local u = users[i]
  return wrk.format("GET", "/timeline?limit=20&user_id=" .. u.id, {["Authorization"] = "Bearer " .. u.token})
end

done = common.done
