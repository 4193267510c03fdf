-- quorumkv reads: GET /kv/bench-<i>, the node's own replica (consistency=local, the default).
local dir = string.match(debug.getinfo(1, "S").source, "^@(.*)/[^/]*$") or "."
local bench = dofile(dir .. "/common.lua")

bench.install(function(i)
  return wrk.format("GET", "/kv/" .. bench.key(i), {}, nil)
end)
