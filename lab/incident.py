#!/usr/bin/python3
"""The incident lab: the retry storm of shared/DESIGN.md, against the reference peer and herald.

For each system under test it starts a fresh herald-mockmail (the email provider, 500 ms per
send), the system, and herald-storm (the incident's clients: open-loop arrivals, a per-attempt
timeout, exponential backoff with full jitter, a retry window, no Idempotency-Key). It samples
the system's memory and open descriptors from /proc/PID while the storm runs and for a grace
period after it (so work done for clients that have already stopped shows up), then reads the
provider's call log and matches every call back to the storm's notification id in its body.

  lab/incident.py --size ci   [--out DIR]   the CI-sized run: 2 s attempt timeout, a few minutes
  lab/incident.py --size full [--out DIR]   the incident's size: 20/s for 60 s, 10 s timeout

Writes DIR/results.md (the table), DIR/results.json, DIR/*.png (charts over time, systems side
by side) and DIR/raw/ (the storm's JSON lines, the provider's calls, the /proc samples). Every
process it starts is stopped by its pid. Runs with Debian's python3 (matplotlib). See docs/lab.md.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "lab"))

import charts  # noqa: E402

# Sizes. `grace` bounds how long the lab keeps watching the provider after the storm's last
# client has stopped; it stops earlier once the provider has had no call for `quiet` seconds.
SIZES = {
    "ci": {
        "provider_latency_ms": 500, "rate": 10, "duration": 15, "attempt_timeout": 2,
        "backoff_base": 0.5, "backoff_max": 4, "retry_window": 20, "prefer_wait": 2,
        "grace": 20, "quiet": 3,
        "overload": {"capacity_concurrency": 4, "duration": 15},
    },
    # A smoke run for ctest (label `lab`): seconds, not minutes.
    "smoke": {
        "provider_latency_ms": 500, "rate": 5, "duration": 4, "attempt_timeout": 2,
        "backoff_base": 0.5, "backoff_max": 2, "retry_window": 4, "prefer_wait": 2,
        "grace": 5, "quiet": 2,
        "overload": {"capacity_concurrency": 2, "duration": 4},
    },
    "full": {
        "provider_latency_ms": 500, "rate": 20, "duration": 60, "attempt_timeout": 10,
        "backoff_base": 1, "backoff_max": 30, "retry_window": 120, "prefer_wait": 10,
        "grace": 60, "quiet": 5,
        "overload": {"capacity_concurrency": 8, "duration": 60},
    },
}

SYSTEMS = ["peer-unpatched", "peer-patched", "herald-202", "herald-wait"]
STORM_ID = re.compile(r"storm-[0-9a-z]+-[0-9]+")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_json(url, method="GET", timeout=5):
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.loads(answer.read())


def wait_http(url, cap=20):
    deadline = time.monotonic() + cap
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {cap} s")


class Processes:
    """The processes one run started; stop() ends each by its own pid, newest first."""

    def __init__(self, work):
        self.work = work
        self.started = []

    def start(self, name, argv, env=None):
        out = open(os.path.join(self.work, f"{name}.out"), "w")
        err = open(os.path.join(self.work, f"{name}.err"), "w")
        process = subprocess.Popen(argv, stdout=out, stderr=err, env=env,
                                   start_new_session=True)
        self.started.append(process)
        return process

    def stop(self):
        for process in reversed(self.started):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.started = []


class ProcSampler(threading.Thread):
    """Every `interval` seconds: (wall ms, VmRSS KiB, open descriptors) of one pid."""

    def __init__(self, pid, interval=0.25):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            try:
                rss = 0
                with open(f"/proc/{self.pid}/status") as status:
                    for line in status:
                        if line.startswith("VmRSS:"):
                            rss = int(line.split()[1])
                fds = len(os.listdir(f"/proc/{self.pid}/fd"))
                self.samples.append((int(time.time() * 1000), rss, fds))
            except OSError:
                return
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join()


def start_provider(procs, build, latency_ms, extra=()):
    port = free_port()
    procs.start("provider", [f"{build}/tools/mockmail/herald-mockmail",
                             "--listen", f"127.0.0.1:{port}",
                             "--latency-ms", str(latency_ms), *extra])
    url = f"http://127.0.0.1:{port}"
    wait_http(url + "/stats")
    return url


def start_system(procs, build, work, system, provider_url, herald_sets=()):
    """Starts the system under test; returns (its process, the storm's target URL)."""
    port = free_port()
    if system.startswith("peer-"):
        mode = system.split("-", 1)[1]
        process = procs.start("system", ["/usr/bin/python3", f"{TOP}/tools/peer/peer.py",
                                         "--listen", f"127.0.0.1:{port}",
                                         "--provider", provider_url + "/v1/send",
                                         "--mode", mode])
    else:
        sets = []
        for setting in herald_sets:
            sets += ["--set", setting]
        process = procs.start("system", [f"{build}/src/herald", "serve",
                                         "--listen", f"127.0.0.1:{port}",
                                         "--store", f"sqlite:{work}/herald.db",
                                         "--transport", provider_url + "/v1/send",
                                         "--log-level", "warn", *sets])
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz")
    return process, base + "/v1/notifications"


def storm_argv(build, size, url, work, system, rate=None, duration=None):
    argv = [f"{build}/tools/storm/herald-storm", "--url", url,
            "--rate", str(rate or size["rate"]), "--duration", str(duration or size["duration"]),
            "--attempt-timeout", str(size["attempt_timeout"]),
            "--backoff-base", str(size["backoff_base"]),
            "--backoff-max", str(size["backoff_max"]),
            "--retry-window", str(size["retry_window"]),
            "--out", f"{work}/storm.jsonl", "--summary-out", f"{work}/storm-summary.json"]
    if system == "herald-wait":
        # herald's own client contract: say how long you will wait, ask for the outcome.
        argv += ["--prefer-wait", str(size["prefer_wait"]), "--deadline-header"]
    return argv


def watch_provider(provider_url, grace, quiet):
    """After the storm: waits until the provider has had no new call for `quiet` seconds, at most
    `grace` seconds. Returns the seconds waited."""
    started = time.monotonic()
    last_calls, last_change = -1, started
    while time.monotonic() - started < grace:
        stats = http_json(provider_url + "/stats")
        if stats["calls"] != last_calls:
            last_calls, last_change = stats["calls"], time.monotonic()
        elif time.monotonic() - last_change >= quiet and stats.get("in_flight", 0) == 0:
            break
        time.sleep(0.25)
    return round(time.monotonic() - started, 1)


def run_one(build, size, system, out_dir, label=None, provider_extra=(), herald_sets=(),
            rate=None, duration=None):
    label = label or system
    work = tempfile.mkdtemp(prefix=f"herald-lab-{label}-")
    procs = Processes(work)
    try:
        provider_url = start_provider(procs, build, size["provider_latency_ms"], provider_extra)
        process, url = start_system(procs, build, work, system, provider_url, herald_sets)
        sampler = ProcSampler(process.pid)
        sampler.start()
        print(f"lab: {label}: storm against {url}", flush=True)
        storm = subprocess.run(storm_argv(build, size, url, work, system, rate, duration),
                               capture_output=True, text=True, timeout=3600)
        if storm.returncode != 0:
            raise RuntimeError(f"herald-storm failed: {storm.stderr}")
        print(storm.stdout, end="", flush=True)
        storm_stopped_ms = int(time.time() * 1000)
        waited = watch_provider(provider_url, size["grace"], size["quiet"])
        sampler.stop()
        calls = http_json(provider_url + "/calls", timeout=60)
        still_running = process.poll() is None
    finally:
        procs.stop()

    raw = os.path.join(out_dir, "raw", label)
    os.makedirs(raw, exist_ok=True)
    shutil.copy(os.path.join(work, "storm.jsonl"), raw)
    with open(os.path.join(raw, "provider-calls.jsonl"), "w") as out:
        for call in calls:
            call = {k: call.get(k) for k in ("seq", "received_at_ms", "answer", "body")}
            match = STORM_ID.search(call.pop("body") or "")
            call["storm_id"] = match.group(0) if match else None
            out.write(json.dumps(call) + "\n")
    with open(os.path.join(raw, "proc-samples.jsonl"), "w") as out:
        for when, rss, fds in sampler.samples:
            out.write(json.dumps({"t_ms": when, "rss_kb": rss, "fds": fds}) + "\n")
    with open(os.path.join(raw, "run.json"), "w") as out:
        json.dump({"label": label, "system": system, "storm_stopped_ms": storm_stopped_ms,
                   "grace_waited_s": waited, "system_alive": still_running}, out)
    shutil.rmtree(work, ignore_errors=True)
    return analyze(raw)


def load_lines(path):
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(int(fraction * len(ordered)), len(ordered) - 1)]


def analyze(raw):
    """The table's figures for one run, from its raw files (so they can be recomputed)."""
    notes = load_lines(os.path.join(raw, "storm.jsonl"))
    calls = load_lines(os.path.join(raw, "provider-calls.jsonl"))
    samples = load_lines(os.path.join(raw, "proc-samples.jsonl"))
    with open(os.path.join(raw, "run.json")) as f:
        run = json.load(f)

    by_id = {note["id"]: note for note in notes}
    attempts = [a for note in notes for a in note["attempts"]]
    storm_end_ms = max((note["done_ms"] for note in notes), default=0)
    calls_per_id = {}
    zombie = zombie_after_stop = after_stop = foreign = 0
    for call in calls:
        note = by_id.get(call["storm_id"])
        if note is None:
            foreign += 1
            continue
        calls_per_id[note["id"]] = calls_per_id.get(note["id"], 0) + 1
        if is_zombie(note, call["received_at_ms"]):
            zombie += 1
            zombie_after_stop += call["received_at_ms"] > storm_end_ms
        after_stop += call["received_at_ms"] > storm_end_ms

    latencies = [a["latency_ms"] for a in attempts]
    ok = sum(note["outcome"] == "ok" for note in notes)
    timeouts = sum(a["result"] == "timeout" for a in attempts)
    rss = [s["rss_kb"] for s in samples]
    fds = [s["fds"] for s in samples]
    n = max(len(notes), 1)
    return {
        "label": run["label"],
        "system": run["system"],
        "notifications": len(notes),
        "success_pct": 100.0 * ok / n,
        "attempt_timeout_pct": 100.0 * timeouts / max(len(attempts), 1),
        "attempts_per_notification": len(attempts) / n,
        "latency_p50_ms": percentile(latencies, 0.50),
        "latency_p95_ms": percentile(latencies, 0.95),
        "latency_p99_ms": percentile(latencies, 0.99),
        "provider_calls": sum(calls_per_id.values()),
        "provider_calls_per_notification": sum(calls_per_id.values()) / n,
        "notifications_never_sent": sum(1 for note in notes if note["id"] not in calls_per_id),
        "zombie_calls": zombie,
        "calls_after_clients_stopped": after_stop,
        "zombie_calls_after_clients_stopped": zombie_after_stop,
        "wasted_calls": sum(calls_per_id.get(note["id"], 0) - (note["outcome"] == "ok")
                            for note in notes),
        "ids_sent_twice": sum(1 for count in calls_per_id.values() if count >= 2),
        "peak_rss_mb": max(rss, default=0) / 1024.0,
        "peak_fds": max(fds, default=0),
        "fds_at_end": fds[-1] if fds else None,
        "calls_without_storm_id": foreign,
        "grace_waited_s": run["grace_waited_s"],
    }


def is_zombie(note, received_ms):
    """A provider call is zombie work when, at the moment it reached the provider, no attempt of
    its notification was still waiting for an answer and none had been answered with success
    before: nobody was waiting for it and nobody had been promised it. herald's 202 mode
    delivers after a success (promised work, not zombie). A stale call that happens to arrive
    while a later attempt of the same notification is open is not counted, so the figure is a
    lower bound."""
    for attempt in note["attempts"]:
        if attempt["start_ms"] <= received_ms <= attempt["end_ms"]:
            return False
        if attempt["result"] == "ok" and attempt["end_ms"] <= received_ms:
            return False
    return True


COLUMNS = [
    ("system", "label", "{}"),
    ("success %", "success_pct", "{:.1f}"),
    ("attempt timeouts %", "attempt_timeout_pct", "{:.1f}"),
    ("attempts / notification", "attempts_per_notification", "{:.2f}"),
    ("p50 ms", "latency_p50_ms", "{:.0f}"),
    ("p95 ms", "latency_p95_ms", "{:.0f}"),
    ("p99 ms", "latency_p99_ms", "{:.0f}"),
    ("provider calls / notification", "provider_calls_per_notification", "{:.2f}"),
    ("calls beyond one per success", "wasted_calls", "{}"),
    ("zombie calls", "zombie_calls", "{}"),
    ("of them after clients stopped", "zombie_calls_after_clients_stopped", "{}"),
    ("ids sent twice", "ids_sent_twice", "{}"),
    ("never sent", "notifications_never_sent", "{}"),
    ("peak RSS MB", "peak_rss_mb", "{:.1f}"),
    ("peak open fds", "peak_fds", "{}"),
]


def table(results):
    lines = ["| " + " | ".join(c[0] for c in COLUMNS) + " |",
             "|" + "---|" * len(COLUMNS)]
    for result in results:
        cells = []
        for _, key, fmt in COLUMNS:
            value = result.get(key)
            cells.append("-" if value is None else fmt.format(value))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine():
    cpu = "unknown CPU"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}"


def main():
    parser = argparse.ArgumentParser(description="herald's incident lab")
    parser.add_argument("--size", choices=sorted(SIZES), default="ci")
    parser.add_argument("--out", help="output directory (default BUILD/lab/SIZE)")
    parser.add_argument("--build", default=os.environ.get("HERALD_BUILD_DIR", f"{TOP}/build"))
    parser.add_argument("--systems", default=",".join(SYSTEMS),
                        help="comma-separated subset of " + ",".join(SYSTEMS))
    parser.add_argument("--no-overload", action="store_true", help="skip the overload scenario")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 unless every herald run has no zombie call, no id sent "
                             "twice and no notification left unsent (timings are not checked)")
    parser.add_argument("--reanalyze", action="store_true",
                        help="recompute the table and charts from OUT/raw without running")
    args = parser.parse_args()
    size = SIZES[args.size]
    out = os.path.abspath(args.out or f"{args.build}/lab/{args.size}")
    os.makedirs(out, exist_ok=True)
    started = time.monotonic()

    systems = [s for s in args.systems.split(",") if s]
    overload = {"label": "herald-overload", "system": "herald-202"}
    capacity = size["overload"]["capacity_concurrency"] * 1000 / size["provider_latency_ms"]
    overload_rate = 2 * capacity
    if args.reanalyze:
        results = [analyze(os.path.join(out, "raw", s)) for s in systems]
        overloads = ([] if args.no_overload else
                     [analyze(os.path.join(out, "raw", overload["label"]))])
    else:
        results = [run_one(args.build, size, s, out) for s in systems]
        overloads = []
        if not args.no_overload:
            overloads.append(run_one(
                args.build, size, "herald-202", out, label=overload["label"],
                provider_extra=["--max-concurrent", str(size["overload"]["capacity_concurrency"]),
                                "--over-capacity", "queue"],
                rate=overload_rate, duration=size["overload"]["duration"]))

    when = datetime.date.today().isoformat()
    header = (f"Incident lab, size `{args.size}`, {when}, on {machine()}.\n\n"
              f"Provider: herald-mockmail at {size['provider_latency_ms']} ms per send. Clients: "
              f"herald-storm, {size['rate']} new notifications/s for {size['duration']} s, "
              f"{size['attempt_timeout']} s per attempt, backoff {size['backoff_base']} s doubling "
              f"to {size['backoff_max']} s with full jitter, retry window "
              f"{size['retry_window']} s, no Idempotency-Key. herald-wait adds "
              f"`Prefer: wait={size['prefer_wait']}` and `X-Request-Timeout-Ms`. Latencies are "
              f"per attempt (a timed-out attempt counts at its timeout).\n")
    text = header + "\n" + table(results) + "\n"
    if overloads:
        text += (f"\nOverload: provider capped at {size['overload']['capacity_concurrency']} "
                 f"sends at once (capacity {capacity:.0f}/s; more wait in its queue), offered "
                 f"{overload_rate:.0f} new notifications/s for {size['overload']['duration']} s "
                 f"(2 × capacity), herald in its default 202 mode.\n\n" + table(overloads) + "\n")
    with open(os.path.join(out, "results.md"), "w") as f:
        f.write(text)
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"size": args.size, "date": when, "machine": machine(), "config": size,
                   "results": results, "overload": overloads}, f, indent=1)
    charts.render(out, [r["label"] for r in results], [o["label"] for o in overloads])
    print("\n" + text)
    print(f"lab: wrote {out}/results.md, results.json and charts "
          f"({time.monotonic() - started:.0f} s)")
    if args.check:
        broken = [r["label"] for r in results + overloads if r["system"].startswith("herald")
                  and (r["zombie_calls"] or r["ids_sent_twice"] or r["notifications_never_sent"])]
        if broken:
            print(f"lab: check failed for {', '.join(broken)}")
            sys.exit(1)
        print("lab: check passed (herald: no zombie call, no duplicate, nothing unsent)")


if __name__ == "__main__":
    main()
