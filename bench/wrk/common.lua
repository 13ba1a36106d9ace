-- Shared by chirp's wrk scripts: loads lines "user_id token" from $CHIRP_WRK_DATA and prints a JSON summary.
local M = {}

function M.load()
  local users = {}
  for line in io.lines(os.getenv("CHIRP_WRK_DATA")) do
    local id, token = line:match("^(%S+)%s+(%S+)$")
    if id then users[#users + 1] = {id = id, token = token} end
  end
  return users
end

function M.done(summary, latency)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "errors": %d, "non2xx": %d}\n',
    summary.requests, summary.duration, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, e.connect + e.read + e.write + e.timeout, e.status))
end

return M
