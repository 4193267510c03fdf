-- quorumkv reads: GET /kv/bench-<i>, the node's own replica (consistency=local, the default), or
-- at BENCH_CONSISTENCY (leader, linearizable) when it is set.
local dir = string.match(debug.getinfo(1, "S").source, "^@(.*)/[^/]*$") or "."
local bench = dofile(dir .. "/common.lua")
local consistency = os.getenv("BENCH_CONSISTENCY")
local query = (consistency and consistency ~= "") and ("?consistency=" .. consistency) or ""

bench.install(function(i)
  return wrk.format("GET", "/kv/" .. bench.key(i) .. query, {}, nil)
end)
