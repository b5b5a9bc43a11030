"""Charts over time for the incident lab, one PNG per view, the systems side by side.

  throughput.png  per second: attempts started, attempts answered with success, attempts that
                  timed out (the graph that looked healthy on the server, next to what clients saw)
  latency.png     every attempt's latency against its start time, successes and failures apart
  provider.png    calls reaching the provider per second: first calls of a notification, repeats,
                  and zombie calls (made when no client was waiting for them)
  memory.png      the system's resident memory and open descriptors, sampled from /proc/PID
  overload.png    the overload scenario's four views in one row

Time is in seconds from the run's first arrival; the dashed line marks the last client's end.
Reads only DIR/raw/<label>/, so charts can be redrawn from checked-in raw data.
"""

import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import incident  # noqa: E402


def load(out, label):
    raw = os.path.join(out, "raw", label)
    notes = incident.load_lines(os.path.join(raw, "storm.jsonl"))
    calls = incident.load_lines(os.path.join(raw, "provider-calls.jsonl"))
    samples = incident.load_lines(os.path.join(raw, "proc-samples.jsonl"))
    t0 = min((n["arrival_ms"] for n in notes), default=0)
    end = (max((n["done_ms"] for n in notes), default=t0) - t0) / 1000.0
    return {"notes": notes, "calls": calls, "samples": samples, "t0": t0, "end": end}


def per_second(times):
    counts = {}
    for t in times:
        counts[int(t)] = counts.get(int(t), 0) + 1
    if not counts:
        return [], []
    xs = list(range(min(0, min(counts)), max(counts) + 1))
    return xs, [counts.get(x, 0) for x in xs]


def draw_throughput(ax, run):
    t0 = run["t0"]
    attempts = [a for n in run["notes"] for a in n["attempts"]]
    for times, label, style in (
            ([(a["start_ms"] - t0) / 1000 for a in attempts], "attempts started", "-"),
            ([(a["end_ms"] - t0) / 1000 for a in attempts if a["result"] == "ok"],
             "answered with success", "-"),
            ([(a["end_ms"] - t0) / 1000 for a in attempts if a["result"] == "timeout"],
             "timed out", "--")):
        xs, ys = per_second(times)
        ax.step(xs, ys, where="post", linestyle=style, label=label)
    ax.set_ylabel("attempts / s")


def draw_latency(ax, run):
    t0 = run["t0"]
    attempts = [a for n in run["notes"] for a in n["attempts"]]
    ok = [a for a in attempts if a["result"] == "ok"]
    bad = [a for a in attempts if a["result"] != "ok"]
    ax.scatter([(a["start_ms"] - t0) / 1000 for a in ok], [a["latency_ms"] for a in ok],
               s=3, label="success", alpha=0.6)
    ax.scatter([(a["start_ms"] - t0) / 1000 for a in bad], [a["latency_ms"] for a in bad],
               s=3, label="timeout or error", alpha=0.6, color="tab:red")
    ax.set_ylabel("attempt latency (ms)")


def draw_provider(ax, run):
    t0 = run["t0"]
    by_id = {n["id"]: n for n in run["notes"]}
    seen = set()
    first, repeat, zombie = [], [], []
    for call in sorted(run["calls"], key=lambda c: c["received_at_ms"]):
        t = (call["received_at_ms"] - t0) / 1000
        note = by_id.get(call["storm_id"])
        (repeat if call["storm_id"] in seen else first).append(t)
        seen.add(call["storm_id"])
        if note is not None and incident.is_zombie(note, call["received_at_ms"]):
            zombie.append(t)
    for times, label, style in ((first, "first call of a notification", "-"),
                                (repeat, "repeat of a notification", "-"),
                                (zombie, "zombie (no client waiting)", "--")):
        xs, ys = per_second(times)
        ax.step(xs, ys, where="post", linestyle=style, label=label)
    ax.set_ylabel("provider calls / s")


def draw_memory(ax, run):
    t0 = run["t0"]
    xs = [(s["t_ms"] - t0) / 1000 for s in run["samples"]]
    ax.plot(xs, [s["rss_kb"] / 1024 for s in run["samples"]], label="RSS (MB)")
    ax.set_ylabel("RSS (MB)")
    ax.set_ylim(0, max((s["rss_kb"] / 1024 for s in run["samples"]), default=1) * 1.4)
    fds = ax.twinx()
    fds.plot(xs, [s["fds"] for s in run["samples"]], color="tab:orange", label="open fds")
    fds.set_ylabel("open descriptors")
    fds.set_ylim(bottom=0)


VIEWS = [("throughput", draw_throughput, "Throughput"),
         ("latency", draw_latency, "Latency"),
         ("provider", draw_provider, "Provider incoming rate"),
         ("memory", draw_memory, "Memory and descriptors")]


def finish(ax, run, title):
    ax.axvline(run["end"], color="gray", linestyle=":", linewidth=1)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("s since first arrival")
    if ax.get_ylim()[0] != 0:
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)


def render(out, labels, overload_labels=()):
    runs = {label: load(out, label) for label in list(labels) + list(overload_labels)}
    for name, draw, title in VIEWS:
        if not labels:
            break
        fig, axes = plt.subplots(1, len(labels), figsize=(4.2 * len(labels), 3.4),
                                 squeeze=False)
        for ax, label in zip(axes[0], labels):
            draw(ax, runs[label])
            finish(ax, runs[label], label)
        axes[0][0].legend(fontsize=7, loc="upper left")
        fig.suptitle(title)
        fig.tight_layout()
        fig.savefig(os.path.join(out, f"{name}.png"), dpi=90)
        plt.close(fig)
    for label in overload_labels:
        fig, axes = plt.subplots(1, len(VIEWS), figsize=(4.2 * len(VIEWS), 3.4))
        for ax, (name, draw, title) in zip(axes, VIEWS):
            draw(ax, runs[label])
            finish(ax, runs[label], title)
            ax.legend(fontsize=7, loc="upper left")
        fig.suptitle(f"{label}: offered load 2 × the provider's capacity")
        fig.tight_layout()
        fig.savefig(os.path.join(out, "overload.png"), dpi=90)
        plt.close(fig)


if __name__ == "__main__":
    import sys

    directory = sys.argv[1]
    with open(os.path.join(directory, "results.json")) as f:
        results = json.load(f)
    render(directory, [r["label"] for r in results["results"]],
           [r["label"] for r in results["overload"]])
