-- bench/signed_bodies.lua: wrk sends N pre-signed SOAP bodies, each exactly once, then stops.
--
--   wrk -t1 -c8 -d600s --timeout 60s -s bench/signed_bodies.lua http://127.0.0.1:8311/soap/office \
--       -- BODIES PATH SOAPACTION DONE_FILE CONNECTIONS
--
-- BODIES is a file of the request bodies separated by NUL bytes; each is POSTed to PATH with
-- Content-Type text/xml and the given SOAPAction header. CONNECTIONS repeats wrk's -c (see
-- done()). The servers keep a replay cache, so a body sent twice would be refused: request()
-- hands out body 1, 2, ..., N and afterwards an empty request (wrk writes nothing and the
-- connection stays idle). wrk calls request() once more than it sends: its first call, before
-- the run, only checks the request's format, so that call does not use up body 1. With -t1
-- only: one Lua state hands out the bodies.
--
-- response() counts the answers and the errors (HTTP status other than 200, or a SOAP Fault in
-- the body) and keeps the first error's first 300 bytes. When all N have answered it stops the
-- thread and creates DONE_FILE: wrk's main thread sleeps for the whole -d however early its
-- thread stops, so the caller (bench/soap.py) waits for DONE_FILE and sends wrk SIGINT, which
-- ends that sleep; wrk then prints its report and runs done(), which prints one JSON line:
--
--   {"bodies": N, "sent": .., "answered": .., "errors": .., "first_error": "..." or null,
--    "elapsed_us": .., "duration_us": .., "latencies": .., "p50_us": .., "p99_us": ..,
--    "wrk_p50_us": .., "wrk_p99_us": .., "socket_errors": {"connect": .., "read": ..,
--    "write": .., "status": .., "timeout": ..}}
--
-- elapsed_us runs from the first body handed out to the N-th answer (CLOCK_MONOTONIC through
-- LuaJIT's ffi); duration_us is wrk's own, which also counts wrk's start and the wait for
-- SIGINT. p50_us and p99_us are percentiles of the latencies as measured (`latencies` of them:
-- all answers but those over --timeout); wrk_p50_us and wrk_p99_us are wrk's own, with its
-- coordinated-omission correction (see measured_histogram()).

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } signed_bodies_timespec;
int clock_gettime(int clock, signed_bodies_timespec *ts);
]])
local CLOCK_MONOTONIC = 1
local ts = ffi.new("signed_bodies_timespec")

local function now_us()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
   return tonumber(ts.tv_sec) * 1000000 + math.floor(tonumber(ts.tv_nsec) / 1000)
end

-- setup() and done() run in wrk's main Lua state, the rest in the thread's own.

local threads = {}

function setup(thread)
   if #threads > 0 then
      error("bench/signed_bodies.lua: one thread only (-t1), else bodies would be sent twice")
   end
   threads[1] = thread
end

function init(args)
   local file = assert(io.open(args[1], "rb"))
   local data = file:read("*a")
   file:close()
   local headers = { ["Content-Type"] = "text/xml; charset=utf-8", ["SOAPAction"] = args[3] }
   requests = {}
   for body in string.gmatch(data, "([^%z]+)") do
      requests[#requests + 1] = wrk.format("POST", args[2], headers, body)
   end
   done_file = args[4]
   connections = tonumber(args[5]) -- wrk's -c, for done()
   bodies = #requests
   checked = false -- wrk's format check has called request()
   sent = 0
   answered = 0
   errors = 0
   first_error = nil
   started_us = nil
   elapsed_us = nil
end

function request()
   if not checked then
      checked = true
      return requests[1]
   end
   if sent == bodies then
      return ""
   end
   if sent == 0 then
      started_us = now_us()
   end
   sent = sent + 1
   return requests[sent]
end

function response(status, headers, body)
   answered = answered + 1
   if status ~= 200 or string.find(body, "Fault>", 1, true) then
      errors = errors + 1
      if first_error == nil then
         first_error = body ~= "" and string.sub(body, 1, 300) or ("HTTP " .. status)
      end
   end
   if answered == bodies then
      elapsed_us = now_us() - started_us
      wrk.thread:stop()
      assert(io.open(done_file, "w")):close()
   end
end

local function json_string(s)
   if s == nil then
      return "null"
   end
   local escaped = string.gsub(s, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end)
   return '"' .. escaped .. '"'
end

-- The latencies as measured. Before done(), wrk "corrects" its histogram for coordinated
-- omission (stats_correct in wrk.c): with interval = duration / (answers / connections), every
-- latency v >= 2 * interval adds one made-up sample at each of v - interval, v - 2 * interval,
-- ... (while above interval). So for v > interval, measured[v] = corrected[v] - corrected[v +
-- interval], and below it the two are equal. For this closed loop (each connection sends its
-- next body once answered) the made-up samples are not requests: they were 10-25% of the
-- samples in a run of 1000 and doubled p99.
local function measured_histogram(summary, latency, connections)
   local corrected, values = {}, {}
   for i = 1, #latency do
      local v, count = latency(i)
      corrected[v] = count
      values[i] = v
   end
   local per_connection = math.floor(summary.requests / connections)
   local interval = per_connection > 0 and math.floor(summary.duration / per_connection) or math.huge
   local measured, total = {}, 0
   for _, v in ipairs(values) do
      measured[v] = corrected[v] - (v > interval and corrected[v + interval] or 0)
      total = total + measured[v]
   end
   return values, measured, total
end

local function percentile(values, counts, total, p) -- as wrk's stats_percentile
   local rank, seen = math.floor(p / 100 * total + 0.5 + 0.5), 0 -- round(p / 100 * total + 0.5)
   for _, v in ipairs(values) do
      seen = seen + counts[v]
      if seen >= rank then
         return v
      end
   end
   return 0
end

function done(summary, latency, requests)
   local t = threads[1]
   local e = summary.errors
   local values, measured, total = measured_histogram(summary, latency, t:get("connections"))
   io.write(
      string.format(
         '{"bodies": %d, "sent": %d, "answered": %d, "errors": %d, "first_error": %s, '
            .. '"elapsed_us": %d, "duration_us": %d, "latencies": %d, "p50_us": %d, "p99_us": %d, '
            .. '"wrk_p50_us": %d, "wrk_p99_us": %d, "socket_errors": '
            .. '{"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
         t:get("bodies"),
         t:get("sent"),
         t:get("answered"),
         t:get("errors"),
         json_string(t:get("first_error")),
         t:get("elapsed_us") or -1,
         summary.duration,
         total,
         percentile(values, measured, total, 50),
         percentile(values, measured, total, 99),
         latency:percentile(50),
         latency:percentile(99),
         e.connect,
         e.read,
         e.write,
         e.status,
         e.timeout
      )
   )
end
