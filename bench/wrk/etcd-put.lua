-- etcd writes through its gRPC JSON gateway: POST /v3/kv/put {"key": b64(key), "value": b64(value)},
-- the same keys and value bytes as quorumkv-put.lua (see common.lua).
local dir = string.match(debug.getinfo(1, "S").source, "^@(.*)/[^/]*$") or "."
local bench = dofile(dir .. "/common.lua")
local value64 = bench.base64(bench.value())

bench.install(function(i)
  local body = '{"key":"' .. bench.base64(bench.key(i)) .. '","value":"' .. value64 .. '"}'
  return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" }, body)
end)
