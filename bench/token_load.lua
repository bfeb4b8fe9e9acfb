-- wrk script: POST a client_credentials token request with a JSON body, as partners do.
--
--   wrk -t2 -c32 -d10s --latency -s bench/token_load.lua http://127.0.0.1:PORT -- /oauth/token
--
-- The token path is the first script argument (after `--`), else $TOKEN_PATH, else
-- /oauth/token. The body is $TOKEN_BODY, else the demo client below. The request is built
-- once per thread, so the script adds no per-request Lua work (both servers pay the same).
-- At the end it prints one line "WRK_JSON {...}" with the counts and latency percentiles
-- (microseconds) that bench/emulator_http.py reads.

local default_body = '{"client_id":"demo-client","client_secret":"demo-secret",'
  .. '"grant_type":"client_credentials","scope":"read:members"}'

local path = os.getenv("TOKEN_PATH") or "/oauth/token"
local body = os.getenv("TOKEN_BODY") or default_body
local req = nil

function init(args)
  if args[1] ~= nil and args[1] ~= "" then
    path = args[1]
  end
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Accept"] = "application/json"
  req = wrk.format("POST", path, headers, body)
end

function request()
  return req
end

function done(summary, latency, requests)
  local e = summary.errors
  local out = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,'
      .. '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d}}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)
  )
  io.write("WRK_JSON " .. out .. "\n")
end
