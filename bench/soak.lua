-- wrk script for bench/soak.py: token requests and API calls mixed, counted by kind.
--
--   SOAK_TOKEN=<access token> SOAK_TOKEN_EVERY=5 wrk -t2 -c16 -d60s -s bench/soak.lua URL
--
-- Every SOAK_TOKEN_EVERY-th request is a JSON client_credentials POST for the demo client
-- (scope rotating), the others are GETs of three API routes with the bearer token. Requests
-- are built once per thread, so the per-request work is a counter and a table lookup. wrk
-- does not pair answers with requests, so an answer's kind is told by its body. At the end
-- it prints one line "SOAK_JSON {...}": counts by kind, by status and per wall-clock second
-- (all threads), socket errors and latency percentiles (microseconds).
local token = os.getenv("SOAK_TOKEN")
local every = tonumber(os.getenv("SOAK_TOKEN_EVERY"))
-- "" = scope omitted: every scope the client was granted
local scopes = {"read:members", "read:appointments", "write:transactions", "read:members read:appointments", ""}
local paths = {"/api/members", "/api/appointments", "/api/transactions"}
local token_reqs, api_reqs, n = {}, {}, 0
counts = {token_ok = 0, api_ok = 0, other = 0}
statuses, seconds = {}, {}

function init(args)
  for i, scope in ipairs(scopes) do
    local body = '{"client_id":"demo-client","client_secret":"demo-secret",'
      .. '"grant_type":"client_credentials"'
      .. (scope ~= "" and (',"scope":"' .. scope .. '"') or "") .. '}'
    token_reqs[i] = wrk.format("POST", "/oauth/token", {["Content-Type"] = "application/json"}, body)
  end
  for i, path in ipairs(paths) do
    api_reqs[i] = wrk.format("GET", path, {["Authorization"] = "Bearer " .. token})
  end
end

function request()
  n = n + 1
  if n % every == 0 then
    return token_reqs[math.floor(n / every) % #token_reqs + 1]
  end
  return api_reqs[n % #api_reqs + 1]
end

function response(status, headers, body)
  local now = os.time()
  seconds[now] = (seconds[now] or 0) + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status >= 200 and status < 300 then
    if string.find(body, '"access_token"', 1, true) then
      counts.token_ok = counts.token_ok + 1
    else
      counts.api_ok = counts.api_ok + 1
    end
  else
    counts.other = counts.other + 1
  end
end

local threads = {}
function setup(thread) table.insert(threads, thread) end

function done(summary, latency, requests)
  local total = {token_ok = 0, api_ok = 0, other = 0}
  local all_status, all_seconds = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("counts")) do total[k] = total[k] + v end
    for k, v in pairs(t:get("statuses")) do all_status[k] = (all_status[k] or 0) + v end
    for k, v in pairs(t:get("seconds")) do all_seconds[k] = (all_seconds[k] or 0) + v end
  end
  local function obj(tbl)
    local parts = {}
    for k, v in pairs(tbl) do table.insert(parts, string.format('"%s":%d', k, v)) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  local e = summary.errors
  io.write(string.format(
    'SOAK_JSON {"requests":%d,"duration_us":%d,"counts":%s,"statuses":%s,"seconds":%s,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99_9":%d}}\n',
    summary.requests, summary.duration, obj(total), obj(all_status), obj(all_seconds),
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
end
