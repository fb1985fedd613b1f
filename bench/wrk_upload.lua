-- wrk script for the upload comparison (bench/run.sh). Every request carries DIFFERENT image
-- bytes: imgup answers a repeated upload of the same bytes as a duplicate without writing.
--
--   wrk -t2 -c8 -d10s --latency -s wrk_upload.lua URL -- MODE BODY_FILE OFFSET RUN LABEL
--
-- MODE imgup: POST /upload with the seed's JSON body; BODY_FILE is that JSON and OFFSET the
--   0-based position of 8 base64 characters that encode only bytes of the JPEG's COM payload.
--   They are rewritten per request from (RUN, thread, counter): still valid base64, still a
--   valid JPEG (a different comment), a different SHA-256.
-- MODE nginx: WebDAV PUT /up/RUN-THREAD-COUNTER.jpg with the raw JPEG; BODY_FILE is the JPEG
--   and OFFSET the position of 6 COM payload bytes rewritten the same way.
-- done() prints one line "WRK_RESULT key=value ..." that run.sh parses (latencies in ms).

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("thread_id", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

-- The 48-bit tag of a request: RUN (8 bits) . thread (8 bits) . counter (32 bits).
local function tag(n)
  return (run % 256) * 2 ^ 40 + (thread_id % 256) * 2 ^ 32 + n
end

-- 48 bits as 8 base64 characters (6 bits each, most significant first).
local function tag_base64(v)
  local out = {}
  for i = 8, 1, -1 do
    local d = v % 64
    out[i] = B64:sub(d + 1, d + 1)
    v = (v - d) / 64
  end
  return table.concat(out)
end

-- 48 bits as 6 raw bytes, big-endian.
local function tag_bytes(v)
  local out = {}
  for i = 6, 1, -1 do
    local d = v % 256
    out[i] = string.char(d)
    v = (v - d) / 256
  end
  return table.concat(out)
end

function init(args)
  mode = args[1]
  local f = assert(io.open(args[2], "rb"))
  local body = f:read("*a")
  f:close()
  local offset = tonumber(args[3])
  run = tonumber(args[4])
  label = args[5] or mode
  n = 0
  s201, s2xx, s200, other = 0, 0, 0, 0
  if mode == "imgup" then
    -- Content-Length is the same for every request: keep the whole request as two pieces
    -- around the 8 characters, so that request() does one concatenation.
    local req = wrk.format("POST", "/upload", { ["Content-Type"] = "application/json" }, body)
    local head = #req - #body
    pre = req:sub(1, head + offset)
    post = req:sub(head + offset + 9)
  elseif mode == "nginx" then
    local req = wrk.format("PUT", "/up/@", { ["Content-Type"] = "image/jpeg" }, body)
    local at = req:find("@", 1, true)
    local head = #req - #body
    pre = req:sub(1, at - 1)
    mid = req:sub(at + 1, head + offset)
    post = req:sub(head + offset + 7)
  else
    error("MODE must be imgup or nginx, not " .. tostring(mode))
  end
end

function request()
  n = n + 1
  local v = tag(n)
  if mode == "imgup" then
    return pre .. tag_base64(v) .. post
  end
  return pre .. run .. "-" .. thread_id .. "-" .. n .. ".jpg" .. mid .. tag_bytes(v) .. post
end

function response(status, headers, body)
  if status == 201 then
    s201 = s201 + 1
  elseif status == 200 then
    s200 = s200 + 1
  elseif status >= 200 and status < 300 then
    s2xx = s2xx + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local c201, c200, c2xx, cother = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    c201 = c201 + t:get("s201")
    c200 = c200 + t:get("s200")
    c2xx = c2xx + t:get("s2xx")
    cother = cother + t:get("other")
  end
  local e = summary.errors
  local seconds = summary.duration / 1e6
  io.write(string.format(
    "WRK_RESULT label=%s requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f " ..
    "p99_ms=%.3f p999_ms=%.3f max_ms=%.3f mean_ms=%.3f status_201=%d status_200=%d " ..
    "status_other_2xx=%d non_2xx=%d err_connect=%d err_read=%d err_write=%d " ..
    "err_timeout=%d err_status=%d\n",
    threads[1]:get("label"), summary.requests, seconds, summary.requests / seconds,
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    latency:percentile(99.9) / 1e3, latency.max / 1e3, latency.mean / 1e3, c201, c200, c2xx,
    cother, e.connect, e.read, e.write, e.timeout, e.status))
end
