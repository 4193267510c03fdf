-- etcd reads: POST /v3/kv/range {"key": b64(key), "serializable": true}: served by the member
-- it is sent to from its own state, without a quorum round, like quorumkv's consistency=local.
local dir = string.match(debug.getinfo(1, "S").source, "^@(.*)/[^/]*$") or "."
local bench = dofile(dir .. "/common.lua")

bench.install(function(i)
  local body = '{"key":"' .. bench.base64(bench.key(i)) .. '","serializable":true}'
  return wrk.format("POST", "/v3/kv/range", { ["Content-Type"] = "application/json" }, body)
end)
