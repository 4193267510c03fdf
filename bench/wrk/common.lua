-- Shared by the four wrk scripts beside this file (quorumkv-put, quorumkv-get, etcd-put,
-- etcd-range). bench/vs-etcd.sh drives them; settings come from the environment:
--
--   BENCH_TARGETS     host:port,host:port,...  thread i drives target i mod n (default: wrk's URL)
--   BENCH_KEYS        K: keys bench-0 .. bench-(K-1)                         (default 1000)
--   BENCH_VALUE_SIZE  bytes per written value                                (default 100)
--   BENCH_W           quorumkv only: sent as ?w=W on every PUT               (default: none)
--   BENCH_CONSISTENCY quorumkv reads only: sent as ?consistency=C           (default: none, local)
--   BENCH_SEED        base of the per-thread random seed                     (default 42)
--   BENCH_PREFILL     1: write every key (at least) once, in order, then stop (default 0)
--   BENCH_THREADS     wrk's -t, needed by BENCH_PREFILL to split the keys    (default 1)
--   BENCH_LABEL       a name echoed in the RESULT line
--
-- Every request is built once per thread in init(); request() only picks one, so the Lua side
-- costs the same for both systems. Keys are picked uniformly at random from a generator seeded
-- per thread (BENCH_SEED + thread index), so runs are repeatable and threads do not move in step.
--
-- done() prints one machine-readable line (the script greps it):
--   RESULT label=.. requests=N non2xx=N connect=N read=N write=N timeout=N seconds=S
--          rps=R ok_rps=R p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..
-- requests counts every completed response; non2xx is wrk's count of status >= 400; ok_rps is
-- (requests - non2xx) / seconds. Percentiles are latency:percentile(p) in microseconds.

local M = {}

local function env_number(name, default)
  local text = os.getenv(name)
  if text == nil or text == "" then return default end
  local n = tonumber(text)
  if n == nil then error(name .. " is not a number: '" .. text .. "'") end
  return n
end

M.keys = env_number("BENCH_KEYS", 1000)
M.value_size = env_number("BENCH_VALUE_SIZE", 100)
M.seed = env_number("BENCH_SEED", 42)
M.threads = env_number("BENCH_THREADS", 1)
M.prefill = os.getenv("BENCH_PREFILL") == "1"
M.label = os.getenv("BENCH_LABEL") or "run"
M.w = os.getenv("BENCH_W")
if M.w == "" then M.w = nil end
if M.keys < 1 then error("BENCH_KEYS must be at least 1") end
if M.value_size < 1 then error("BENCH_VALUE_SIZE must be at least 1") end

function M.key(i)
  return "bench-" .. i
end

-- The same printable value for every key and both systems: VALUE_SIZE bytes of a fixed pattern.
function M.value()
  local pattern = "abcdefghijklmnopqrstuvwxyz0123456789"
  local reps = math.floor(M.value_size / #pattern) + 1
  return string.sub(string.rep(pattern, reps), 1, M.value_size)
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = string.byte(s, i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = string.sub(B64, c1 + 1, c1 + 1) .. string.sub(B64, c2 + 1, c2 + 1)
      .. (b and string.sub(B64, c3 + 1, c3 + 1) or "=")
      .. (c and string.sub(B64, c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

local function targets()
  local list = {}
  for item in string.gmatch(os.getenv("BENCH_TARGETS") or "", "[^,]+") do
    local host, port = string.match(item, "^%s*([^:%s]+):(%d+)%s*$")
    if not host then error("BENCH_TARGETS: not host:port: '" .. item .. "'") end
    list[#list + 1] = { host = host, port = port }
  end
  return list
end

-- Defines wrk's global callbacks. build(i) returns the whole HTTP request for key index i
-- (0-based), made with wrk.format.
function M.install(build)
  local list = targets()
  local next_thread = 0

  -- Main Lua state, once per thread before it starts: point it at its member, give it an index.
  function setup(thread)
    if #list > 0 then
      local t = list[(next_thread % #list) + 1]
      local addrs = wrk.lookup(t.host, t.port)
      if addrs == nil or #addrs == 0 then error("cannot resolve " .. t.host .. ":" .. t.port) end
      thread.addr = addrs[1]
    end
    thread:set("tid", next_thread)
    next_thread = next_thread + 1
  end

  -- Each thread's own Lua state (and random generator).
  function init(args)
    local me = tid or 0
    requests_by_key = {}
    for i = 0, M.keys - 1 do
      requests_by_key[i + 1] = build(i)
    end
    math.randomseed(M.seed + 7919 * me)
    calls = 0
  end

  if M.prefill then
    -- This thread's keys me, me + T, me + 2T, ... in order over its connections, then the first
    -- one again (wrk calls request() once to inspect the request and never sends that one), then
    -- the thread stops. Requests still in flight then have been sent: the server still applies
    -- them. wrk itself waits for -d, or for SIGINT: vs-etcd.sh sends one once every key is there.
    function request()
      local share = math.floor((M.keys - 1 - (tid or 0)) / M.threads) + 1
      if share < 1 then
        wrk.thread:stop()
        return requests_by_key[1]
      end
      calls = calls + 1
      if calls > share + 1 then wrk.thread:stop() end
      local i = (tid or 0) + ((calls - 1) % share) * M.threads
      return requests_by_key[i + 1]
    end
  else
    function request()
      return requests_by_key[math.random(M.keys)]
    end
  end

  function done(summary, latency, requests)
    local e = summary.errors
    local seconds = summary.duration / 1e6
    local ok = summary.requests - e.status
    io.write(string.format(
      "RESULT label=%s requests=%d non2xx=%d connect=%d read=%d write=%d timeout=%d seconds=%.3f"
        .. " rps=%.1f ok_rps=%.1f p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d\n",
      M.label, summary.requests, e.status, e.connect, e.read, e.write, e.timeout, seconds,
      summary.requests / seconds, ok / seconds,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency:percentile(99.9), latency.max))
  end
end

return M
