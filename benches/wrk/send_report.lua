-- SendReport with a fresh JobId per request, for agents from AGENTS_FILE.
local agents = {}
local n = 0
local i = 0
local counter = 0
function init(args)
  for line in io.lines(os.getenv("AGENTS_FILE")) do
    n = n + 1
    agents[n] = line
  end
  i = math.random(n)
  math.randomseed(os.time() + i)
end
local function guid()
  counter = counter + 1
  return string.format("%08x-%04x-4%03x-8%03x-%012x", math.random(0, 0x7fffffff), counter % 65536, math.random(0, 4095), math.random(0, 4095), math.random(0, 0x7fffffff))
end
function request()
  i = i % n + 1
  local body = '{"JobId":"' .. guid() .. '","OperationType":"Consistency","RefreshMode":"Pull","Status":"Success","ReportFormatVersion":"2.0","StartTime":"2024-01-01T00:00:00.0000000+00:00","EndTime":"2024-01-01T00:00:05.0000000+00:00","Errors":[],"StatusData":["{\\"Status\\":\\"Success\\"}"]}'
  return wrk.format("POST", "/PSDSCPullServer.svc/Nodes(AgentId='" .. agents[i] .. "')/SendReport",
    {["Content-Type"] = "application/json; charset=utf-8", ["ProtocolVersion"] = "2.0"}, body)
end
function done(summary, latency, requests)
  io.write(string.format("non2xx=%d p50_us=%d p99_us=%d\n", summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
