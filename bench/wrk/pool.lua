-- Sends a pool of pre-signed requests, each exactly once, then goes quiet.
--
--   wrk -t1 -c64 -d25s -s bench/wrk/pool.lua http://127.0.0.1:PORT -- POOL THREADS SECONDS
--
-- POOL: one request per line, "METHOD TARGET API_KEY [BODY]" (bench/honest.py writes it,
-- signed in Python: wrk's LuaJIT has no HMAC, and signing in pure Lua would cost more CPU
-- than the whole budget of the load generator). Thread `id` takes lines id, id+THREADS, ...
-- Every request is distinct (the gateway refuses a byte-identical signed call as
-- replayed_request), so a request is never sent twice: when the pool or SECONDS runs out,
-- delay() parks each connection for an hour instead. In-flight calls still answer and are
-- counted, so after wrk's -d (SECONDS plus a grace) nothing is lost between the gateway's
-- decision log and these counts. The throughput window is the first request to the last
-- answer (CLOCK_MONOTONIC through LuaJIT's FFI), not wrk's -d.
-- Prints one line "HONEST_JSON {...}" from done().

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } honest_timespec;
  int clock_gettime(int clk_id, honest_timespec *tp);
]]
local ts = ffi.new("honest_timespec")
local function now_us()
  ffi.C.clock_gettime(1, ts) -- CLOCK_MONOTONIC
  return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
end

local PARKED_MS = 3600000
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local pool = {}
local reserved, sent = 0, 0
local deadline_us = 0
-- Read back by done() through thread:get, so these are globals of the thread's state.
ok2xx, decided, non2xx, answered, sent_total, first_us, last_us, parked = 0, 0, 0, 0, 0, 0, 0, 0
sample = ""

function init(args)
  local path, nthreads, seconds = args[1], tonumber(args[2]), tonumber(args[3])
  -- Lines are kept raw and formatted when sent: formatting the whole pool here would
  -- charge wrk's CPU with requests it never sends.
  local k = 0
  for line in io.lines(path) do
    if k % nthreads == id then
      pool[#pool + 1] = line
    end
    k = k + 1
  end
  deadline_us = seconds * 1000000 -- relative until the first request
end

local function format(line)
  local method, target, key, body = line:match("^(%S+) (%S+) (%S+) ?(.*)$")
  local headers = { ["X-MBX-APIKEY"] = key }
  if body == "" then
    body = nil
  else
    headers["Content-Type"] = "application/x-www-form-urlencoded"
  end
  return wrk.format(method, target, headers, body)
end

function delay()
  -- Reserve a request for this connection, or park it: the pool or the time is used up.
  if reserved >= #pool or (first_us > 0 and now_us() >= deadline_us) then
    parked = parked + 1
    return PARKED_MS
  end
  reserved = reserved + 1
  return 0
end

function request()
  -- wrk calls this once before any connection opens, to count pipelined requests; that
  -- call (and only it) has no reservation from delay(), and must not use up a request.
  if sent >= reserved then
    return format(pool[1])
  end
  if first_us == 0 then
    first_us = now_us()
    deadline_us = first_us + deadline_us
  end
  sent = sent + 1
  sent_total = sent
  return format(pool[sent])
end

function response(status, headers, body)
  answered = answered + 1
  last_us = now_us()
  if status >= 200 and status < 300 then
    ok2xx = ok2xx + 1
  else
    non2xx = non2xx + 1
    if sample == "" then
      sample = status .. " " .. string.sub(body or "", 1, 200)
    end
  end
  if headers["X-Decision-Id"] ~= nil then
    decided = decided + 1
  end
end

local function quote(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local t = { ok2xx = 0, decided = 0, non2xx = 0, answered = 0, sent = 0, parked = 0 }
  local first, last, samples = nil, 0, {}
  for _, thread in ipairs(threads) do
    t.ok2xx = t.ok2xx + thread:get("ok2xx")
    t.decided = t.decided + thread:get("decided")
    t.non2xx = t.non2xx + thread:get("non2xx")
    t.answered = t.answered + thread:get("answered")
    t.sent = t.sent + thread:get("sent_total")
    t.parked = t.parked + thread:get("parked")
    local f, l = thread:get("first_us"), thread:get("last_us")
    if f > 0 and (first == nil or f < first) then first = f end
    if l > last then last = l end
    local s = thread:get("sample")
    if s ~= "" then samples[#samples + 1] = quote(s) end
  end
  local e = summary.errors
  local out = {
    string.format('"ok2xx":%d,"with_decision_id":%d,"non2xx":%d,"answered":%d,"sent":%d',
      t.ok2xx, t.decided, t.non2xx, t.answered, t.sent),
    string.format('"window_us":%.0f', (first and last > first) and (last - first) or 0),
    string.format('"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d}',
      e.connect, e.read, e.write, e.timeout),
    string.format('"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}',
      latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean),
    '"samples":[' .. table.concat(samples, ",") .. "]",
  }
  io.write("HONEST_JSON {" .. table.concat(out, ",") .. "}\n")
end
