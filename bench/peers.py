#!/usr/bin/python3
"""herald against its peers, every ratio measured in the same run (bench/peers.sh builds first).

  intake      POST under the same wrk load (wrk -t1, CONNECTIONS connections, SECONDS each):
              the bare Beast server (a fixed 202), herald (durable 202, delivery paused) and the
              patched reference peer (which calls a 0 ms provider before it answers)
  wait        end to end over a 0 ms provider: herald with `Prefer: wait=5` (answered once the
              provider has the message) against the patched peer (the same work: accept, call
              the provider, answer)
  added       herald's added latency over a 500 ms provider: herald-storm at 20/s with
              `Prefer: wait`, against the same storm sent straight to the provider; p50 and p99
  waiters     herald's resident memory with 10 000 clients waiting at once in `Prefer: wait`
              (the provider holds every send 60 s; herald's waiter, connection and in-flight
              caps raised for the run)

Goals (see docs/lab.md): intake >= 0.5 x bare and >= 50 x the patched peer; Prefer: wait
>= 20 x the patched peer; added p99 <= 2 ms; 10 000 waiters <= 150 MB. Prints the measured
figures and ratios, and writes them as JSON with --out. Loopback only; every process it starts
is stopped by its pid.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "lab"))

from incident import Processes, ProcSampler, free_port, http_json, wait_http  # noqa: E402


def cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def wrk(url, seconds, connections, script, pid):
    before = cpu_ms(pid)
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script, url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    after = cpu_ms(pid)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rate, "requests": requests, "cpu_us_per_request":
            (after - before) * 1000 / max(requests, 1),
            "non_2xx": int(errors.group(1)) if errors else 0}


def start_mock(procs, build, latency_ms, name):
    port = free_port()
    procs.start(name, [f"{build}/tools/mockmail/herald-mockmail", "--listen",
                       f"127.0.0.1:{port}", "--latency-ms", str(latency_ms)])
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/stats")
    return url


def start_herald(procs, build, work, name, transport, *sets, io_threads=None):
    port = free_port()
    argv = [f"{build}/src/herald", "serve", "--listen", f"127.0.0.1:{port}",
            "--store", f"sqlite:{work}/{name}.db", "--transport", transport,
            "--log-level", "warn"]
    if io_threads:
        argv += ["--io-threads", str(io_threads)]
    for setting in sets:
        argv += ["--set", setting]
    process = procs.start(name, argv)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz")
    return process, base


def start_peer(procs, provider, name):
    port = free_port()
    process = procs.start(name, ["/usr/bin/python3", f"{TOP}/tools/peer/peer.py", "--listen",
                                 f"127.0.0.1:{port}", "--provider", provider + "/v1/send",
                                 "--mode", "patched"])
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz")
    return process, base


def storm(build, work, url, *extra):
    summary = f"{work}/storm-summary.json"
    subprocess.run([f"{build}/tools/storm/herald-storm", "--url", url, "--summary-out", summary,
                    *extra], check=True, capture_output=True, timeout=600)
    with open(summary) as f:
        return json.load(f)


def bench_intake(build, work, seconds, connections):
    procs = Processes(work)
    post = f"{TOP}/bench/post.lua"
    try:
        port = free_port()
        bare = procs.start("bare", [f"{build}/bench/herald-bench-bare-beast", str(port)])
        wait_http(f"http://127.0.0.1:{port}/")
        result = {"bare": wrk(f"http://127.0.0.1:{port}/v1/notifications", seconds,
                              connections, post, bare.pid)}
        herald, base = start_herald(procs, build, work, "intake", f"maildir:{work}/mail",
                                    "delivery.paused=true", io_threads=1)
        result["herald"] = wrk(base + "/v1/notifications", seconds, connections, post,
                               herald.pid)
        mock = start_mock(procs, build, 0, "mock0")
        peer, peer_base = start_peer(procs, mock, "peer")
        result["peer"] = wrk(peer_base + "/v1/notifications", seconds, connections, post,
                             peer.pid)
    finally:
        procs.stop()
    result["herald_over_bare"] = result["herald"]["rps"] / result["bare"]["rps"]
    result["herald_over_peer"] = result["herald"]["rps"] / result["peer"]["rps"]
    return result


def bench_wait(build, work, seconds, connections):
    procs = Processes(work)
    script = os.path.join(work, "post-wait.lua")
    with open(f"{TOP}/bench/post.lua") as f, open(script, "w") as out:
        out.write(f.read() + '\nwrk.headers["Prefer"] = "wait=5"\n')
    try:
        mock = start_mock(procs, build, 0, "mock-wait")
        # Room for as many sends in flight as there are clients, as the peer (a greenlet per
        # connection) has.
        herald, base = start_herald(procs, build, work, "wait", mock + "/v1/send",
                                    f"delivery.concurrency={max(16, connections)}")
        result = {"herald": wrk(base + "/v1/notifications", seconds, connections, script,
                                herald.pid)}
        result["herald_provider_calls"] = http_json(mock + "/stats")["calls"]
        peer, peer_base = start_peer(procs, mock, "peer-wait")
        result["peer"] = wrk(peer_base + "/v1/notifications", seconds, connections, script,
                             peer.pid)
    finally:
        procs.stop()
    result["herald_over_peer"] = result["herald"]["rps"] / result["peer"]["rps"]
    return result


def bench_added(build, work, seconds):
    procs = Processes(work)
    common = ["--rate", "20", "--duration", str(seconds), "--attempt-timeout", "5",
              "--keep-alive", "--arrivals", "poisson"]
    try:
        mock = start_mock(procs, build, 500, "mock-500")
        direct = storm(build, work, mock + "/v1/send", *common)
        # 20/s over 500 ms keeps about 10 sends in flight, and Poisson bursts go well past
        # delivery.concurrency's default of 16: a provider this slow is configured with room
        # for its round trip, or the excess waits a whole round trip for a slot.
        herald, base = start_herald(procs, build, work, "added", mock + "/v1/send",
                                    "delivery.concurrency=64")
        through = storm(build, work, base + "/v1/notifications", *common, "--prefer-wait", "5",
                        "--idempotency-key")
    finally:
        procs.stop()
    d, h = direct["attempt_latency_ms"], through["attempt_latency_ms"]
    return {"direct": d, "herald": h, "herald_ok_pct": through["ok_pct"],
            "herald_statuses": through["statuses"],
            "added_p50_ms": h["p50"] - d["p50"], "added_p99_ms": h["p99"] - d["p99"]}


def bench_waiters(build, work, waiters):
    procs = Processes(work)
    try:
        mock = start_mock(procs, build, 60000, "mock-hold")
        cap = str(waiters + 1000)
        herald, base = start_herald(
            procs, build, work, "waiters", mock + "/v1/send",
            f"server.max_waiters={cap}", f"server.max_connections={cap}",
            f"server.max_in_flight={cap}", "server.max_wait_ms=30000",
            "server.max_request_timeout_ms=60000", "store.max_queue=20000")
        idle_rss = rss_kb(herald.pid)
        sampler = ProcSampler(herald.pid, interval=0.2)
        sampler.start()
        storm_process = subprocess.Popen(
            [f"{build}/tools/storm/herald-storm", "--url", base + "/v1/notifications",
             "--rate", "2500", "--duration", str(waiters / 2500), "--max-notifications",
             str(waiters), "--attempt-timeout", "40", "--prefer-wait", "30",
             "--deadline-header", "--retry-window", "0", "--max-open", cap],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Until every client waits, or the count has not grown for 3 s (some were refused).
        peak_waiters, grown_at = 0, time.monotonic()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and storm_process.poll() is None:
            now_waiting = gauge(base, "herald_intake_waiters")
            if now_waiting > peak_waiters:
                peak_waiters, grown_at = now_waiting, time.monotonic()
            if peak_waiters >= waiters or time.monotonic() - grown_at > 3:
                time.sleep(1)  # let memory settle
                break
            time.sleep(0.5)
        waiting_rss = rss_kb(herald.pid)
        storm_process.terminate()
        storm_process.wait(timeout=30)
        sampler.stop()
    finally:
        procs.stop()
    return {"waiters": peak_waiters, "idle_rss_mb": idle_rss / 1024,
            "rss_mb_with_waiters": waiting_rss / 1024,
            "peak_rss_mb": max(s[1] for s in sampler.samples) / 1024,
            "peak_fds": max(s[2] for s in sampler.samples)}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def gauge(base, name):
    text = urllib.request.urlopen(base + "/metrics", timeout=5).read().decode()
    match = re.search(rf"^{name} ([\d.e+]+)$", text, re.M)
    return int(float(match.group(1))) if match else 0


def main():
    parser = argparse.ArgumentParser(description="herald against its peers")
    parser.add_argument("--build", default=os.environ.get("HERALD_BUILD_DIR", f"{TOP}/build"))
    parser.add_argument("--seconds", type=int, default=10, help="per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--waiters", type=int, default=10000)
    parser.add_argument("--only", default="intake,wait,added,waiters")
    parser.add_argument("--out", help="write the figures as JSON here")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="herald-bench-")
    only = args.only.split(",")
    results = {"cores": os.cpu_count(), "date": time.strftime("%Y-%m-%d")}

    if "intake" in only:
        r = results["intake"] = bench_intake(args.build, work, args.seconds, args.connections)
        print(f"intake ({args.seconds} s, {args.connections} connections):")
        for name in ("bare", "herald", "peer"):
            print(f"  {name:7} {r[name]['rps']:9.0f} req/s  "
                  f"{r[name]['cpu_us_per_request']:7.1f} us CPU/req  non-2xx {r[name]['non_2xx']}")
        print(f"  herald / bare  {r['herald_over_bare']:.3f}  (goal >= 0.5)")
        print(f"  herald / peer  {r['herald_over_peer']:.1f}  (goal >= 50)")
    if "wait" in only:
        r = results["wait"] = bench_wait(args.build, work, args.seconds, args.connections)
        print("Prefer: wait=5 over a 0 ms provider:")
        for name in ("herald", "peer"):
            print(f"  {name:7} {r[name]['rps']:9.0f} req/s  non-2xx {r[name]['non_2xx']}")
        print(f"  herald / peer  {r['herald_over_peer']:.1f}  (goal >= 20)")
    if "added" in only:
        r = results["added"] = bench_added(args.build, work, args.seconds)
        print("added latency over a 500 ms provider (20/s, Prefer: wait=5):")
        print(f"  direct p50 {r['direct']['p50']:.3f} p99 {r['direct']['p99']:.3f} ms; herald "
              f"p50 {r['herald']['p50']:.3f} p99 {r['herald']['p99']:.3f} ms "
              f"(statuses {r['herald_statuses']})")
        print(f"  added p50 {r['added_p50_ms']:.3f} ms, p99 {r['added_p99_ms']:.3f} ms "
              f"(goal p99 <= 2 ms)")
    if "waiters" in only:
        r = results["waiters"] = bench_waiters(args.build, work, args.waiters)
        print(f"{r['waiters']} clients waiting in Prefer: wait: RSS {r['rss_mb_with_waiters']:.1f} "
              f"MB (idle {r['idle_rss_mb']:.1f} MB, peak {r['peak_rss_mb']:.1f} MB, "
              f"peak fds {r['peak_fds']}; goal <= 150 MB)")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
