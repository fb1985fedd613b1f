-- wrk script for a plain GET (bench/run.sh): the path comes from the URL; counts statuses and
-- prints one "WRK_RESULT key=value ..." line (latencies in ms).
--
--   wrk -t2 -c8 -d10s --latency -s wrk_get.lua 'http://127.0.0.1:PORT/images?limit=50' -- LABEL

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  label = args[1] or "get"
  s200, s2xx, other, body_bytes = 0, 0, 0, 0
end

function response(status, headers, body)
  if status == 200 then
    s200 = s200 + 1
    body_bytes = #body
  elseif status >= 200 and status < 300 then
    s2xx = s2xx + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c200, c2xx, cother, size = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    c200 = c200 + t:get("s200")
    c2xx = c2xx + t:get("s2xx")
    cother = cother + t:get("other")
    size = math.max(size, t:get("body_bytes"))
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "WRK_RESULT label=%s requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f " ..
    "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f status_200=%d status_other_2xx=%d " ..
    "non_2xx=%d body_bytes=%d err_connect=%d err_read=%d err_write=%d err_timeout=%d " ..
    "err_status=%d\n",
    threads[1]:get("label"), summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency:percentile(99.9) / 1e3, latency.max / 1e3, latency.mean / 1e3, c200, c2xx, cother,
    size, e.connect, e.read, e.write, e.timeout, e.status))
end
