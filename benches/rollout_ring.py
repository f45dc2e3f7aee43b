#!/usr/bin/env python3
"""Time the evaluation of a 10,000-node rollout ring. Not a test: prints numbers.

    python3 benches/rollout_ring.py URL TOKEN AGENTS_FILE [RUNS]

URL is a running traek-server whose agents (one upper-case GUID per line in AGENTS_FILE) all
get the configuration BenchConfig (benches/pull_server.sh seeds such a server). The script
sets a one-ring plan (every node), publishes a candidate, lets every agent download it and
report a run of it (8 threads of keep-alive connections), then times
`GET /api/v1/configurations/BenchConfig/rollout`, which evaluates the ring exactly as the
server's driver does (each node's ring, who downloaded the candidate, whose latest run applied
it, the verdict) plus the HTTP round trip. It aborts the rollout at the end.
"""
import http.client
import json
import statistics
import sys
import threading
import time
import urllib.parse
import uuid


def call(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def admin(base, token, method, path, body=None):
    u = urllib.parse.urlparse(base)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    st, data = call(conn, method, path, body, {"Authorization": f"Bearer {token}"})
    conn.close()
    return st, json.loads(data) if data else None


REPORT = (
    '{{"JobId":"{job}","OperationType":"Consistency","RefreshMode":"Pull","Status":"Success",'
    '"ReportFormatVersion":"2.0","StartTime":"2024-01-01T00:00:00.0000000+00:00",'
    '"EndTime":"2024-01-01T00:00:05.0000000+00:00","Errors":[],'
    '"StatusData":["{{\\"ResourcesInDesiredState\\":[{{\\"ResourceId\\":\\"[File]motd\\",'
    '\\"ModuleName\\":\\"PSDesiredStateConfiguration\\",\\"InDesiredState\\":true}}]}}"]}}'
)


def apply_everywhere(base, agents, threads=8):
    u = urllib.parse.urlparse(base)
    proto = {"ProtocolVersion": "2.0", "Content-Type": "application/json; charset=utf-8"}
    failures = []

    def work(part):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        for agent in part:
            node = f"/PSDSCPullServer.svc/Nodes(AgentId='{agent}')"
            st, _ = call(conn, "GET", f"{node}/Configurations(ConfigurationName='BenchConfig')/ConfigurationContent", headers=proto)
            st2, _ = call(conn, "POST", f"{node}/SendReport", REPORT.format(job=uuid.uuid4()), proto)
            if st != 200 or st2 != 200:
                failures.append((agent, st, st2))
        conn.close()

    parts = [agents[i::threads] for i in range(threads)]
    ts = [threading.Thread(target=work, args=(p,)) for p in parts]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if failures:
        sys.exit(f"{len(failures)} agents failed, e.g. {failures[:3]}")


def main():
    base, token, agents_file = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 21
    agents = [l.strip() for l in open(agents_file) if l.strip()]
    plan = json.dumps({"rings": [{"percent": 100}], "soak": "1h", "maxFailedPercent": 5, "minReportedPercent": 80})
    st, v = admin(base, token, "PUT", "/api/v1/configurations/BenchConfig/rollout", plan.encode())
    assert st == 200, (st, v)
    mof = f"instance of MSFT_Bench {{ Id = \"{uuid.uuid4()}\"; }};".encode()
    st, v = admin(base, token, "PUT", "/api/v1/configurations/BenchConfig?candidate=true", mof)
    assert st == 200, (st, v)
    started = time.monotonic()
    apply_everywhere(base, agents)
    print(f"{len(agents)} agents downloaded the candidate and reported in {time.monotonic() - started:.1f} s")
    times = []
    for _ in range(runs):
        t = time.monotonic()
        st, v = admin(base, token, "GET", "/api/v1/configurations/BenchConfig/rollout")
        times.append((time.monotonic() - t) * 1000)
        assert st == 200, (st, v)
    ring = v["rings"][0]
    times.sort()
    print(
        f"ring of {ring['nodes']} nodes ({ring['onCandidate']} downloaded, {ring['reported']} reported): "
        f"evaluated in median {statistics.median(times):.1f} ms, max {times[-1]:.1f} ms over {runs} runs"
    )
    admin(base, token, "POST", "/api/v1/configurations/BenchConfig/rollout/abort")


if __name__ == "__main__":
    main()
