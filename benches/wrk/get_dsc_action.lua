-- GetDscAction for agents read from AGENTS_FILE (one upper-case GUID per line), round robin.
local agents = {}
local n = 0
local i = 0
function init(args)
  local file = os.getenv("AGENTS_FILE")
  for line in io.lines(file) do
    n = n + 1
    agents[n] = line
  end
  i = math.random(n)
end
function request()
  i = i % n + 1
  local body = '{"ClientStatus":[{"Checksum":"","ChecksumAlgorithm":"SHA-256"}]}'
  return wrk.format("POST", "/PSDSCPullServer.svc/Nodes(AgentId='" .. agents[i] .. "')/GetDscAction",
    {["Content-Type"] = "application/json; charset=utf-8", ["ProtocolVersion"] = "2.0", ["Accept"] = "application/json"}, body)
end
function done(summary, latency, requests)
  io.write(string.format("non2xx=%d p50_us=%d p99_us=%d\n", summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
