#!/usr/bin/python3
"""herald's reference peer: a notification service built the way the incident's service was.

Flask, served by gevent's WSGI server. POST /v1/notifications takes herald's request body
(from, to, subject, text or html), calls the email provider synchronously with `requests`, and
answers 200 {"status":"sent"} once the provider has answered, 502 when it failed.

  --mode unpatched   no monkey patching, as in the incident: the `requests` call is an ordinary
                     blocking socket call, so it stalls gevent's one event loop. The server still
                     accepts connections and reads requests, but one provider call runs at a
                     time, and a client that gave up is still worked for (its answer then fails
                     with a broken pipe, which the server logs and moves past).
  --mode patched     gevent.monkey.patch_all() before anything else is imported: the fix. The
                     same call now yields to the loop, and requests proceed concurrently.

Also GET /healthz, and GET /stats: {"mode","pid","rss_kb","open_fds","requests",
"provider_calls"} from /proc/self (in unpatched mode it waits behind the stalled loop like any
request; the lab reads /proc/PID directly instead). Prints {"listening":"HOST:PORT"} on stdout
once it listens. Loopback addresses only. Not a product: no auth, no validation beyond the
fields it needs, no retries of its own. Runs with Debian's python3 (/usr/bin/python3), which
has python3-flask, python3-gevent and python3-requests.
"""

import argparse
import sys


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: any free)")
    parser.add_argument("--provider", required=True, help="the provider's send URL")
    parser.add_argument("--mode", choices=("unpatched", "patched"), required=True)
    parser.add_argument("--provider-timeout", type=float, default=30.0,
                        help="seconds for one provider call")
    parser.add_argument("--backlog", type=int, default=1024, help="listen backlog")
    return parser.parse_args()


ARGS = parse_args()
if ARGS.mode == "patched":
    # Must run before socket, ssl, threading or requests are imported anywhere.
    from gevent import monkey

    monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import uuid  # noqa: E402

import flask  # noqa: E402
import gevent.pywsgi  # noqa: E402
import requests  # noqa: E402
import requests.adapters  # noqa: E402

app = flask.Flask("herald-peer")
session = requests.Session()
session.mount("http://", requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1000))
counters = {"requests": 0, "provider_calls": 0}


def proc_figures():
    """Resident memory in KiB and open descriptors, from /proc/self."""
    rss_kb = 0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return rss_kb, len(os.listdir("/proc/self/fd"))


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/stats")
def stats():
    rss_kb, fds = proc_figures()
    return {"mode": ARGS.mode, "pid": os.getpid(), "rss_kb": rss_kb, "open_fds": fds, **counters}


@app.post("/v1/notifications")
def create_notification():
    counters["requests"] += 1
    body = flask.request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("from") or not body.get("to"):
        return {"error": "from and to are required"}, 400

    notification_id = str(uuid.uuid4())
    message = {
        "id": notification_id,
        "from": body["from"],
        "to": body["to"],
        "subject": body.get("subject", ""),
        "text": body.get("text", ""),
        "html": body.get("html", ""),
    }
    headers = {}
    if "Idempotency-Key" in flask.request.headers:
        headers["Idempotency-Key"] = flask.request.headers["Idempotency-Key"]
    counters["provider_calls"] += 1
    try:
        answer = session.post(ARGS.provider, json=message, headers=headers,
                              timeout=ARGS.provider_timeout)
    except requests.RequestException as error:
        return {"id": notification_id, "status": "failed", "error": type(error).__name__}, 502
    if answer.status_code // 100 != 2:
        return {"id": notification_id, "status": "failed",
                "provider_status": answer.status_code}, 502
    return {"id": notification_id, "status": "sent"}


def main():
    host, _, port = ARGS.listen.rpartition(":")
    host = host.strip("[]")
    if host not in ("127.0.0.1", "::1", "localhost"):
        sys.exit("herald-peer: --listen must be a loopback address")
    server = gevent.pywsgi.WSGIServer((host, int(port)), app, log=None,
                                      backlog=ARGS.backlog)
    server.init_socket()
    print(json.dumps({"listening": f"{host}:{server.server_port}", "mode": ARGS.mode}),
          flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
