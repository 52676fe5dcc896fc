"""Forwarding figures: for each network sink type, vigil with that sink (best-effort, beside the enforced file
sink) under wrk load on `GET /v2/` as an authenticated client (every request one audit event), against a
receiver on 127.0.0.1:

- request-path cost: wrk's requests/s with the sink configured, as a ratio to the same build without forwarding
  in the same run;
- delivery: the events the receiver acknowledged per second from the start of the load until it held every event
  journaled, and how many it was behind when the load stopped. A sink slower than the saturated server falls
  behind and this is its delivery rate at saturation; one that keeps up delivers at the request rate (behind ≈ 0).

Receivers: a CloudEvents HTTP receiver and an OTLP/HTTP receiver (Python, counting what they acknowledge), a TCP
syslog receiver counting RFC 5424 frames, and the NATS JetStream server on 127.0.0.1:4222 (a stream of its own).
"""

import json
import os
import re
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import tempfile
from pathlib import Path

import vigil_process

PASSWORD = "bench-forwarding-pass"


class Counter:
    """The newest seq a receiver acknowledged: events arrive in seq order, so every older one is there too."""

    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()

    def add(self, seqs):
        with self.lock:
            self.n = max([self.n, *seqs])


SEQ = re.compile(rb'"seq":(\d+)')


class HttpReceiver:
    """Keeps the newest seq of each acknowledged request (the native event carries `"seq":N`, in a CloudEvent's
    data or an OTLP record's body)."""

    def __init__(self):
        self.port, self.count = vigil_process.free_port(), Counter()
        count = self.count

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                count.add(int(m) for m in SEQ.findall(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def delivered(self) -> int:
        return self.count.n

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class SyslogReceiver:
    """A TCP syslog receiver keeping the newest seq of the RFC 5424 messages' structured data."""

    SEQ = re.compile(rb'\[vigil@32473 seq="(\d+)"')
    MARK = b'[vigil@32473 seq="18446744073709551615"'

    def __init__(self):
        self.port, self.count = vigil_process.free_port(), Counter()
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", self.port))
        self.sock.listen(8)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        tail = b""
        while True:
            data = conn.recv(1 << 16)
            if not data:
                return
            buf = tail + data
            self.count.add(int(m) for m in self.SEQ.findall(buf))
            # A structured-data element split between two reads is read whole from the next buffer.
            tail = buf[-len(self.MARK):]

    def delivered(self) -> int:
        return self.count.n

    def stop(self):
        self.sock.close()


class NatsReceiver:
    """The JetStream server itself: a stream of this run's own, counted at the end."""

    def __init__(self):
        tag = os.urandom(4).hex()
        self.stream, self.subject = f"VIGIL_BENCH_{tag}", f"vigil.bench.{tag}"

    def _run(self, coro):
        import asyncio
        return asyncio.run(coro)

    def delivered(self) -> int:
        import nats

        async def newest():
            nc = await nats.connect("nats://127.0.0.1:4222")
            try:
                js = nc.jetstream()
                info = await js.stream_info(self.stream)
                if not info.state.messages:
                    return 0
                return int((await js.get_msg(self.stream, info.state.last_seq)).headers["Vigil-Seq"])
            except Exception:
                return 0
            finally:
                await nc.close()

        return self._run(newest())

    def stop(self):
        import nats

        async def delete():
            nc = await nats.connect("nats://127.0.0.1:4222")
            try:
                await nc.jetstream().delete_stream(self.stream)
            except Exception:
                pass
            finally:
                await nc.close()

        self._run(delete())


def sink_config(kind: str, rx) -> tuple[str, str]:
    """The `[[audit.sink]]` of a kind and the allowlist line it needs."""
    common = 'delivery_guarantee = "best-effort"\nbatch_size = 500\nmax_lag = 100000000\n'
    if kind == "webhook":
        url = f"http://127.0.0.1:{rx.port}"
        return (f'[[audit.sink]]\nname = "bench"\ntype = "webhook"\nurl = "{url}/events"\n{common}',
                f'[audit.export]\ncallback_allowlist = ["{url}"]\n')
    if kind == "otlp":
        return (f'[[audit.sink]]\nname = "bench"\ntype = "otlp"\nurl = "http://127.0.0.1:{rx.port}/v1/logs"\n{common}',
                "")
    if kind == "syslog":
        return (f'[[audit.sink]]\nname = "bench"\ntype = "syslog"\nurl = "tcp://127.0.0.1:{rx.port}"\n{common}', "")
    if kind == "nats":
        return (f'[[audit.sink]]\nname = "bench"\ntype = "nats"\nurl = "nats://127.0.0.1:4222"\n'
                f'subject = "{rx.subject}"\nstream = "{rx.stream}"\n{common}', "")
    return "", ""


def receiver(kind: str):
    return {
        "webhook": HttpReceiver,
        "otlp": HttpReceiver,
        "syslog": SyslogReceiver,
        "nats": NatsReceiver,
        "none": lambda: None,
    }[kind]()


def server_env(work: Path) -> dict:
    return {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""),
            "VIGIL_DATA_DIR": str(work / "data"), "VIGIL_ADMIN_PASSWORD": PASSWORD, "RUST_LOG": "warn",
            "VIGIL_HTTP__ANONYMOUS_REQUESTS_PER_SEC": "0"}


def start(vigil_bin: str, work: Path, toml: str, fail):
    (work / "cwd").mkdir(parents=True)
    (work / "cwd" / "vigil.toml").write_text(toml)
    return vigil_process.serve(vigil_bin, server_env(work), fail, cwd=work / "cwd",
                               what="vigil with the forwarding config")


def last_seq(path: Path) -> int:
    """The seq of the last line of a native JSONL sink."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(f.tell() - 65536, 0))
        lines = [line for line in f.read().split(b"\n") if line.strip()]
    return json.loads(lines[-1])["seq"]


def measure(vigil_bin: str, kind: str, cfg: dict, run_wrk, fail) -> dict:
    rx = receiver(kind)
    work = Path(tempfile.mkdtemp(prefix=f"vigil-bench-fwd-{kind}."))
    sink, allow = sink_config(kind, rx)
    # The default enforced file sink, named, since configured sinks replace the default one.
    file_sink = '[[audit.sink]]\nname = "file"\ntype = "file"\npath = "audit.jsonl"\n\n' if sink else ""
    proc, port = start(vigil_bin, work, allow + file_sink + sink, fail)
    try:
        # An API token, as CI clients send one: no password hashing, and no login throttle on parallel requests.
        token = subprocess.run([vigil_bin, "token", "create", "--user", "admin", "--name", "bench"], cwd=work / "cwd",
                               env=server_env(work), capture_output=True, text=True, timeout=60, check=True).stdout.strip()
        bearer = {"Authorization": f"Bearer {token}"}
        # Let the sink connect before the load.
        run_wrk(port, "/v2/", {**cfg, "wrk_seconds": 1}, bearer)
        t0 = time.monotonic()
        first = rx.delivered() if rx else 0
        res = run_wrk(port, "/v2/", cfg, bearer)
        out = {"rps": res["rps"], "requests": res["requests"]}
        if rx is None:
            return out
        # The enforced file sink holds every committed event the moment it commits: its last line is the journal's
        # head when the load stopped. Events arrive in seq order, so once the receiver holds that seq it holds all.
        end = last_seq(work / "data" / "audit.jsonl")
        at_end = rx.delivered()
        seen = [(time.monotonic(), at_end)]
        deadline = time.monotonic() + 300
        while seen[-1][1] < end:
            if time.monotonic() > deadline:
                raise fail(f"{kind}: the receiver holds events up to seq {seen[-1][1]}, not {end}")
            time.sleep(0.02)
            seen.append((time.monotonic(), rx.delivered()))
        done = next(t for t, n in seen if n >= end)
        elapsed = done - t0
        out.update({"events": end - first, "delivered_per_s": (end - first) / elapsed,
                    "behind_at_end": max(end - at_end, 0), "drained_s": max(elapsed - cfg["wrk_seconds"], 0.0)})
        return out
    finally:
        vigil_process.stop(proc)
        if rx is not None:
            rx.stop()


def run(vigil_bin: str, cfg: dict, run_wrk, log, fail) -> dict:
    kinds = ["none", "webhook", "syslog", "nats", "otlp"]
    rounds = max(1, cfg.get("reps", 1))
    samples: dict[str, list[dict]] = {k: [] for k in kinds}
    for r in range(rounds):
        for kind in kinds:
            m = measure(vigil_bin, kind, cfg, run_wrk, fail)
            samples[kind].append(m)
            extra = f", {m['delivered_per_s']:,.0f} events/s delivered" if "delivered_per_s" in m else ""
            log(f"  forwarding round {r + 1} {kind}: {m['rps']:,.0f} req/s{extra}")
    med = lambda xs: sorted(xs)[len(xs) // 2]
    out = {"rounds": rounds, "wrk_seconds": cfg["wrk_seconds"], "sinks": {}}
    base = med([s["rps"] for s in samples["none"]])
    for kind in kinds:
        rps = med([s["rps"] for s in samples[kind]])
        row = {"rps": rps, "ratio_to_none": rps / base}
        if kind != "none":
            row["delivered_per_s"] = med([s["delivered_per_s"] for s in samples[kind]])
            row["events"] = med([s["events"] for s in samples[kind]])
            row["behind_at_end"] = med([s["behind_at_end"] for s in samples[kind]])
        out["sinks"][kind] = row
    return out


def markdown(fw: dict) -> list[str]:
    L = ["## Forwarding", ""]
    L.append(f"vigil with one best-effort network sink beside the enforced file sink, `GET /v2/` under wrk for "
             f"{fw['wrk_seconds']} s per round as an authenticated client (one audit event per request), medians of "
             f"{fw['rounds']} rounds, receivers on 127.0.0.1 (`bench/forwarding.py`). *Delivered* counts the events "
             "the receiver acknowledged from the start of the load until it held every journaled event; *behind* is what it "
             "still lacked when the load stopped (≈ 0: the sink kept up with the saturated server, so its own ceiling "
             "is higher than this rate).")
    L.append("")
    L.append("| Sink | Requests/s | Ratio to no forwarding | Events delivered/s | Behind at the end |")
    L.append("|---|---:|---:|---:|---:|")
    for kind, row in fw["sinks"].items():
        delivered = f"{row['delivered_per_s']:,.0f}" if "delivered_per_s" in row else "—"
        behind = f"{row['behind_at_end']:,}" if "behind_at_end" in row else "—"
        L.append(f"| {kind} | {row['rps']:,.0f} | {row['ratio_to_none']:.2f} | {delivered} | {behind} |")
    L.append("")
    return L
