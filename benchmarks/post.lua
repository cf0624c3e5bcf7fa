-- wrk script: POST one JSON body (or, with a second argument "distinct", a body made unique per request by
-- replacing the marker @N@ with a counter, so no cache or memo can answer it), and print a JSON summary.
-- Usage: wrk -t1 -cC -dDs -s post.lua URL -- BODY_FILE same|distinct AUTH|"" [PREFIX]
-- PREFIX (distinct mode) is unique per invocation: LuaJIT's random numbers repeat from run to run, and a prompt
-- seen in an earlier run would be answered from the classifier's cache.

local body, prefix, suffix, distinct
local counter = 0
local run_prefix = ""

function init(args)
  local f = assert(io.open(args[1], "rb"))
  body = f:read("*a")
  f:close()
  distinct = args[2] == "distinct"
  if distinct then
    local at = string.find(body, "@N@", 1, true)
    prefix, suffix = string.sub(body, 1, at - 1), string.sub(body, at + 3)
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if args[3] ~= nil and args[3] ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. args[3]
  end
  wrk.body = body
  run_prefix = (args[4] or "0") .. "-"
end

function request()
  if not distinct then
    return wrk.format()
  end
  counter = counter + 1
  return wrk.format(nil, nil, nil, prefix .. run_prefix .. counter .. suffix)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, "errors": {"connect": %d, "read": %d, "write": %d, '
      .. '"status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p90": %d, "p99": %d, "mean": %.1f, '
      .. '"max": %d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.mean, latency.max))
end
