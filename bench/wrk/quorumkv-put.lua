-- quorumkv writes: PUT /kv/bench-<i>?w=W with a BENCH_VALUE_SIZE-byte body (see common.lua).
local dir = string.match(debug.getinfo(1, "S").source, "^@(.*)/[^/]*$") or "."
local bench = dofile(dir .. "/common.lua")
local value = bench.value()
local query = bench.w and ("?w=" .. bench.w) or ""

bench.install(function(i)
  return wrk.format("PUT", "/kv/" .. bench.key(i) .. query,
    { ["Content-Type"] = "application/octet-stream" }, value)
end)
