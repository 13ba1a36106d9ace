-- GET /timeline on the naive PostgreSQL baseline server (no auth, same users).
package.path = debug.getinfo(1, "S").source:match("@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
local users = common.load()
local i = math.random(#users)

request = function()
  i = i % #users + 1
  return wrk.format("GET", "/timeline?limit=20&user_id=" .. users[i].id)
end

done = common.done
