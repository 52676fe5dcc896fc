#!/usr/bin/env python3
"""vigil benchmark harness: the same workloads against vigil and its peers, one after another, on 127.0.0.1.

Started by `bench/run` (which installs the peers and builds vigil); stdlib only. See bench/README.md.

Method, in short: the run is made of rounds; in each round every registry in turn is started fresh (empty data
directory), seeded over the OCI API, put through every workload once, and stopped. A figure is the median of its
rounds. Interleaving the registries round by round keeps slow drifts of a shared, noisy machine from landing on one
registry only; the ratios (vigil / peer) of one run are what count, not the absolute figures.
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import datetime as dt
import hashlib
import http.client
import json
import math
import multiprocessing as mp
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import audit_queries
import forwarding
import soak
from vigil_process import free_port

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------------------------
# vigil variants: one line each. A variant is a label and the extra environment vigil is started with (vigil rejects
# unknown VIGIL_* variables, so it gets a clean environment: PATH, HOME, VIGIL_DATA_DIR and these). Every variant is
# compared with every peer; the first is the baseline of the variant ratios. The journal itself is always on: "audit
# off" means no sink and nobody waiting for read events (best-effort journal); "enforced" is the default
# configuration (every event fsynced in the journal and in {data_dir}/audit.jsonl before the response).
VIGIL_VARIANTS: list[tuple[str, dict[str, str]]] = [
    ("vigil (audit off)", {"VIGIL_AUDIT_LOG": "off", "VIGIL_AUDIT__DELIVERY_GUARANTEE": "best-effort"}),
    ("vigil (audit best-effort)", {"VIGIL_AUDIT_LOG": "file", "VIGIL_AUDIT__DELIVERY_GUARANTEE": "best-effort"}),
    ("vigil (audit enforced)", {"VIGIL_AUDIT_LOG": "file", "VIGIL_AUDIT__DELIVERY_GUARANTEE": "enforced"}),
    # The same without the Merkle tree (no integration, no checkpoints): enforced ÷ this is what the tree costs.
    ("vigil (audit enforced, no tree)", {"VIGIL_AUDIT_LOG": "file", "VIGIL_AUDIT__DELIVERY_GUARANTEE": "enforced",
                                         "VIGIL_AUDIT__TLOG__ENABLED": "false"}),
]

PROFILES = {
    "full": dict(
        reps=3, wrk_seconds=10, wrk_connections=32, wrk_threads=2,
        blob_mib=64, chunk_mib=8, parallel=8, blob_get_repeat=8, blob_get_parallel_repeat=3, blob_push_repeat=3,
        small_clients=8, small_images_per_client=40, small_layer_bytes=2048, seed_tags=10, deadline_s=5400,
        verify_events=10_000_000, verify_reps=3, query_pages=200, aggregate_reps=5, export_reps=3,
        disk_settle_mib=384,
    ),
    "smoke": dict(
        reps=1, wrk_seconds=1, wrk_connections=32, wrk_threads=2,
        blob_mib=8, chunk_mib=2, parallel=8, blob_get_repeat=1, blob_get_parallel_repeat=1, blob_push_repeat=1,
        small_clients=8, small_images_per_client=2, small_layer_bytes=2048, seed_tags=3, deadline_s=300,
        verify_events=20_000, verify_reps=1, query_pages=20, aggregate_reps=2, export_reps=1,
        disk_settle_mib=16,
    ),
}

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
ACCEPT = f"{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"
MIB = 1024 * 1024
HTTP_TIMEOUT = 120


class BenchError(Exception):
    """A workload did not do what the OCI API says it should (wrong status, wrong bytes, tool failure)."""


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Figures


@dataclass
class Figure:
    key: str
    title: str
    unit: str
    higher_is_better: bool
    main: bool  # shown in the SVG chart
    vigil_only: bool = False  # a workload only vigil serves (raw files): peers have no figure for it


def figures(cfg: dict) -> list[Figure]:
    b, c, p = cfg["blob_mib"], cfg["chunk_mib"], cfg["parallel"]
    n = cfg["small_clients"]
    return [
        Figure("manifest_get_tag", "Manifest GET by tag", "req/s", True, True),
        Figure("manifest_get_digest", "Manifest GET by digest", "req/s", True, True),
        Figure("tag_list", "Tag list", "req/s", True, True),
        Figure("blob_get_1", f"{b} MiB blob GET, 1 stream", "MiB/s", True, True),
        Figure("blob_get_n", f"{b} MiB blob GET, {p} parallel (total)", "MiB/s", True, True),
        Figure("raw_get_1", f"{b} MiB raw file GET, 1 stream (vigil only)", "MiB/s", True, False, True),
        Figure("blob_push_mono", f"{b} MiB blob push, monolithic (POST+PUT)", "MiB/s", True, True),
        Figure("blob_push_chunked", f"{b} MiB blob push, {c} MiB chunks (PATCH)", "MiB/s", True, True),
        Figure("small_push", f"Small image pushes, {n} concurrent clients", "images/s", True, True),
        Figure("rss_idle_mib", "Idle RSS after start", "MiB", False, False),
        Figure("rss_peak_mib", "Peak RSS (VmHWM) over the run", "MiB", False, False),
    ]


# ---------------------------------------------------------------------------------------------------------------
# HTTP client helpers (stdlib http.client, keep-alive)


def location_path(location: str) -> str:
    u = urllib.parse.urlsplit(location)
    return u.path + (f"?{u.query}" if u.query else "")


def with_digest(path: str, digest: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}digest={digest}"


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(r'(\w+)="([^"]*)"', rest))


def repo_of(path: str) -> str | None:
    m = re.match(r"/v2/(.+?)/(?:manifests|blobs|tags|referrers)/", path)
    return m.group(1) if m else None


class Client:
    """A keep-alive HTTP/1.1 client for one registry. With credentials it does what docker does: on a 401 with a
    Bearer challenge it fetches a token for the repository (`pull,push`) from the realm with Basic auth, caches it
    and retries; on a Basic challenge it sends Basic. Registries without auth never answer 401, so never pay this."""

    def __init__(self, port: int, creds: tuple[str, str] | None = None):
        self.port = port
        self.creds = creds
        self.conn: http.client.HTTPConnection | None = None
        self.tokens: dict[str | None, str] = {}  # repository -> Authorization value
        self.token_fetches = 0

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _send(self, method, path, body, headers):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                if resp.will_close:
                    self.close()
                return resp, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise

    def auth_header(self, path: str) -> str | None:
        return self.tokens.get(repo_of(path)) or self.tokens.get(None)

    def _login(self, path: str, challenge: str) -> None:
        if not self.creds:
            raise BenchError(f"{path} answered 401 and no credentials are configured: {challenge!r}")
        scheme, params = parse_challenge(challenge)
        repo = repo_of(path)
        if scheme == "basic":
            self.tokens[None] = "Basic " + base64.b64encode(f"{self.creds[0]}:{self.creds[1]}".encode()).decode()
            return
        if scheme != "bearer" or "realm" not in params:
            raise BenchError(f"{path}: unsupported challenge {challenge!r}")
        realm = urllib.parse.urlsplit(params["realm"])
        if realm.hostname not in ("127.0.0.1", "localhost") or (realm.port or 80) != self.port:
            raise BenchError(f"token realm {params['realm']!r} is not this server on 127.0.0.1; refusing to use it")
        q = [("service", params.get("service", ""))]
        if repo:
            q.append(("scope", f"repository:{repo}:pull,push"))
        basic = base64.b64encode(f"{self.creds[0]}:{self.creds[1]}".encode()).decode()
        resp, data = self._send("GET", realm.path + "?" + urllib.parse.urlencode(q), None,
                                {"Authorization": f"Basic {basic}"})
        self.token_fetches += 1
        if resp.status != 200:
            raise BenchError(f"token request to {realm.path} answered {resp.status}: {data[:300]!r}")
        doc = json.loads(data)
        token = doc.get("token") or doc.get("access_token")
        if not token:
            raise BenchError(f"token response without a token: {data[:300]!r}")
        self.tokens[repo] = f"Bearer {token}"

    def authorize(self, repo: str) -> None:
        """Logs in for a repository before a measurement (a no-op for registries without auth)."""
        if not self.creds:
            return
        self.request("HEAD", f"/v2/{repo}/manifests/bench-auth-probe", expect={200, 404})

    def request(self, method, path, body=None, headers=None, expect=None):
        """One request on a keep-alive connection (reopened once if the server closed it). Returns (resp, body)."""
        for attempt in (0, 1):
            h = dict(headers or {})
            auth = self.auth_header(path)
            if auth:
                h["Authorization"] = auth
            resp, data = self._send(method, path, body, h)
            if resp.status == 401 and attempt == 0 and self.creds:
                self._login(path, resp.getheader("WWW-Authenticate") or "")
                continue
            break
        if expect is not None and resp.status not in expect:
            raise BenchError(f"{method} {path} answered {resp.status}, expected {sorted(expect)}: {data[:300]!r}")
        return resp, data

    def get_to_sink(self, path: str, want_len: int, verify_digest: str | None = None) -> int:
        """GET a blob, reading it into a reused buffer; returns the byte count (checked against want_len)."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        auth = self.auth_header(path)
        self.conn.request("GET", path, headers={"Authorization": auth} if auth else {})
        resp = self.conn.getresponse()
        if resp.status != 200:
            data = resp.read()
            raise BenchError(f"GET {path} answered {resp.status}: {data[:300]!r}")
        buf = bytearray(4 * MIB)
        view = memoryview(buf)
        total = 0
        h = hashlib.sha256() if verify_digest else None
        while True:
            n = resp.readinto(view)
            if not n:
                break
            total += n
            if h:
                h.update(view[:n])
        if resp.will_close:
            self.close()
        if total != want_len:
            raise BenchError(f"GET {path} returned {total} bytes, expected {want_len}")
        if h and f"sha256:{h.hexdigest()}" != verify_digest:
            raise BenchError(f"GET {path} returned bytes that do not match {verify_digest}")
        return total

    # --- OCI push operations -----------------------------------------------------------------------------------
    def push_blob_monolithic(self, repo: str, data, digest: str, head_first: bool = False) -> None:
        if head_first:
            self.request("HEAD", f"/v2/{repo}/blobs/{digest}", expect={404, 200})
        resp, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", body=b"",
                               headers={"Content-Length": "0"}, expect={202})
        loc = resp.getheader("Location")
        if not loc:
            raise BenchError("POST blobs/uploads/ gave no Location")
        resp, _ = self.request("PUT", with_digest(location_path(loc), digest), body=data,
                               headers={"Content-Type": "application/octet-stream",
                                        "Content-Length": str(len(data))}, expect={201})

    def push_blob_chunked(self, repo: str, data: memoryview, digest: str, chunk: int) -> None:
        resp, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/", body=b"",
                               headers={"Content-Length": "0"}, expect={202})
        loc = resp.getheader("Location")
        if not loc:
            raise BenchError("POST blobs/uploads/ gave no Location")
        for start in range(0, len(data), chunk):
            piece = data[start:start + chunk]
            end = start + len(piece) - 1
            resp, _ = self.request("PATCH", location_path(loc), body=piece, headers={
                "Content-Type": "application/octet-stream", "Content-Length": str(len(piece)),
                "Content-Range": f"{start}-{end}"}, expect={202})
            loc = resp.getheader("Location") or loc
        self.request("PUT", with_digest(location_path(loc), digest), body=b"",
                     headers={"Content-Length": "0"}, expect={201})

    def put_manifest(self, repo: str, ref: str, manifest: bytes) -> None:
        self.request("PUT", f"/v2/{repo}/manifests/{ref}", body=manifest,
                     headers={"Content-Type": OCI_MANIFEST, "Content-Length": str(len(manifest))}, expect={201})


def sha256(data) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_image(tag_note: str, layer: bytes) -> tuple[bytes, str, bytes, str, bytes, str]:
    """A small OCI image: (config, config digest, layer, layer digest, manifest, manifest digest)."""
    ld = sha256(layer)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"bench": tag_note}},
                         "rootfs": {"type": "layers", "diff_ids": [ld]}}, sort_keys=True).encode()
    cd = sha256(config)
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": cd, "size": len(config)},
        "layers": [{"mediaType": OCI_LAYER, "digest": ld, "size": len(layer)}],
    }, sort_keys=True).encode()
    return config, cd, layer, ld, manifest, sha256(manifest)


# ---------------------------------------------------------------------------------------------------------------
# Servers


def _die_with_parent() -> None:  # runs in the child before exec: servers die if the harness dies
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


@dataclass
class Registry:
    label: str
    kind: str  # vigil | distribution | nora
    binary: str
    env: dict[str, str] = field(default_factory=dict)
    version: str = ""
    notes: str = ""


class Server:
    def __init__(self, reg: Registry, workdir: Path):
        self.reg = reg
        self.dir = workdir
        self.dir.mkdir(parents=True)
        self.log_path = self.dir / "server.log"
        self.proc: subprocess.Popen | None = None
        self.port = 0
        self.creds: tuple[str, str] | None = None

    def start(self) -> None:
        base_env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/root")}
        data = self.dir / "data"
        cwd = self.dir
        if self.reg.kind == "vigil":
            argv = [self.reg.binary, "serve", "--listen", "127.0.0.1:0"]
            # vigil requires authentication: the first start creates the global admin with this password.
            self.creds = ("admin", "bench-" + os.urandom(12).hex())
            env = {**base_env, "VIGIL_DATA_DIR": str(data), "VIGIL_ADMIN_PASSWORD": self.creds[1], **self.reg.env}
        elif self.reg.kind == "distribution":
            self.port = free_port()
            cfg = self.dir / "config.yml"
            # Debian's shipped /etc/docker/registry/config.yml without auth, on loopback, in a scratch directory.
            cfg.write_text(
                "version: 0.1\n"
                "log:\n  fields:\n    service: registry\n"
                "storage:\n  cache:\n    blobdescriptor: inmemory\n"
                f"  filesystem:\n    rootdirectory: {data}\n"
                "  delete:\n    enabled: true\n"
                f"http:\n  addr: 127.0.0.1:{self.port}\n  headers:\n    X-Content-Type-Options: [nosniff]\n"
                "health:\n  storagedriver:\n    enabled: true\n    interval: 10s\n    threshold: 3\n")
            argv = [self.reg.binary, "serve", str(cfg)]
            env = {**base_env, **self.reg.env}
        elif self.reg.kind == "nora":
            self.port = free_port()
            argv = [self.reg.binary, "serve"]
            env = {**base_env, "NORA_HOST": "127.0.0.1", "NORA_PORT": str(self.port),
                   "NORA_STORAGE_PATH": str(data), "NORA_RATE_LIMIT_ENABLED": "false",
                   "NORA_AUDIT_LOG": "file",
                   # No upstream proxy: by default NORA forwards unknown images to Docker Hub; everything here stays
                   # on 127.0.0.1 (and a miss must be a local 404, not a proxy attempt).
                   "NORA_DOCKER_PROXIES": "", **self.reg.env}
        else:
            raise ValueError(self.reg.kind)
        self.logf = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        self._wait_ready()

    def log_tail(self, n=15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def _wait_ready(self, timeout=60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"{self.reg.label} exited with {self.proc.returncode} at start:\n{self.log_tail()}")
            if self.reg.kind == "vigil" and not self.port:
                m = re.search(r"vigil listening on http://127\.0\.0\.1:(\d+)", self.log_path.read_text(errors="replace"))
                if m:
                    self.port = int(m.group(1))
            if self.port:
                try:
                    c = Client(self.port)
                    resp, _ = c.request("GET", "/v2/")
                    c.close()
                    if resp.status in (200, 401):  # 401: up, and asking for credentials
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise BenchError(f"{self.reg.label} did not answer GET /v2/ (200 or 401) within {timeout:.0f} s:\n{self.log_tail()}")

    def status(self) -> dict[str, int]:
        out = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmRSS", "VmHWM"):
                    out[k] = int(v.split()[0])  # kB
        return out

    def reset_peak(self) -> bool:
        try:
            with open(f"/proc/{self.proc.pid}/clear_refs", "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
            return True
        except OSError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.logf.close()


# ---------------------------------------------------------------------------------------------------------------
# Workloads


def parse_duration_ms(s: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", s.strip())
    if not m:
        return float("nan")
    v, u = float(m.group(1)), m.group(2)
    return v * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[u]


def run_wrk(port: int, path: str, cfg: dict, headers: dict[str, str] | None = None) -> dict:
    argv = ["wrk", f"-t{cfg['wrk_threads']}", f"-c{cfg['wrk_connections']}", f"-d{cfg['wrk_seconds']}s",
            "--timeout", "5s", "--latency"]
    for k, v in (headers or {}).items():
        argv += ["-H", f"{k}: {v}"]
    argv.append(f"http://127.0.0.1:{port}{path}")
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=cfg["wrk_seconds"] + 60)
    except subprocess.TimeoutExpired:
        raise BenchError(f"wrk on {path} did not finish in time")
    out = p.stdout
    if p.returncode != 0:
        raise BenchError(f"wrk failed ({p.returncode}): {p.stderr.strip() or out.strip()}")
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m:
        raise BenchError(f"could not read wrk's output:\n{out}")
    rps = float(m.group(1))
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    lat = {f"p{q}": parse_duration_ms(v) for q, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M)}
    res = {"rps": rps, "requests": int(total.group(1)) if total else 0, "latency_ms": lat,
           "non_2xx": int(non2xx.group(1)) if non2xx else 0,
           "socket_errors": dict(zip(("connect", "read", "write", "timeout"),
                                     map(int, sock.groups()))) if sock else {}}
    if res["non_2xx"]:
        raise BenchError(f"wrk on {path}: {res['non_2xx']} of {res['requests']} responses were not 2xx/3xx")
    errs = sum(res["socket_errors"].values())
    if errs:
        raise BenchError(f"wrk on {path}: socket errors {res['socket_errors']}")
    if rps <= 0:
        raise BenchError(f"wrk on {path}: no requests completed")
    return res


def settle_disk(workdir: Path, mib: int) -> float:
    """Writes and fsyncs `mib` MiB next to the server's data, deletes it, and returns the last 64 MiB's rate.

    Virtual disks here take a burst of writes (a few hundred MiB) at several times their sustained rate, then
    throttle; the burst refills while the disk rests. A push measured right after a long read workload would ride
    the burst, one measured after another push would not, and that difference (2x and more) swamps what is being
    compared. Spending the burst first puts every registry's pushes on the sustained rate, which is what a busy
    registry gets anyway."""
    path = workdir / "disk-settle.tmp"
    block = os.urandom(8 * MIB)
    step = min(64, mib)
    rate = 0.0
    try:
        with open(path, "wb") as f:
            for _ in range(max(1, mib // step)):
                t0 = time.monotonic()
                for _ in range(max(1, step // 8)):
                    f.write(block)
                f.flush()
                os.fdatasync(f.fileno())
                rate = step / max(time.monotonic() - t0, 1e-9)
    finally:
        path.unlink(missing_ok=True)
    return rate


def _parallel_worker(idx, barrier, queue, fn, args):
    """Runs fn(idx, *args, ready) in a child process; fn calls ready() when its setup (login) is done, and the
    clock starts when every worker is ready."""
    t0 = [0.0]

    def ready():
        barrier.wait(timeout=120)
        t0[0] = time.monotonic()

    try:
        n = fn(idx, *args, ready)
        queue.put((idx, t0[0], time.monotonic(), n, None))
    except BaseException as e:  # reported to the parent
        try:
            barrier.abort()
        except Exception:
            pass
        queue.put((idx, 0.0, 0.0, 0, f"{type(e).__name__}: {e}"))


def run_parallel(n: int, fn, args: tuple, timeout: float) -> tuple[float, int]:
    """Runs fn(idx, *args, ready) in n processes released together; returns (wall seconds, sum of results)."""
    ctx = mp.get_context("fork")
    barrier, queue = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=_parallel_worker, args=(i, barrier, queue, fn, args), daemon=True) for i in range(n)]
    for p in procs:
        p.start()
    results, deadline = [], time.monotonic() + timeout
    try:
        while len(results) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"parallel workload did not finish within {timeout:.0f} s")
            try:
                results.append(queue.get(timeout=min(left, 1.0)))
            except Exception:  # queue.Empty
                if all(not p.is_alive() for p in procs) and queue.empty():
                    raise BenchError("parallel workers exited without reporting")
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join()
    errors = [r[4] for r in results if r[4]]
    if errors:
        raise BenchError(f"{len(errors)} of {n} parallel clients failed; first: {errors[0]}")
    start, end = min(r[1] for r in results), max(r[2] for r in results)
    return end - start, sum(r[3] for r in results)


def _blob_get_worker(idx, port, creds, path, size, repeat, ready):
    c = Client(port, creds)
    try:
        c.authorize(repo_of(path))
        ready()
        return sum(c.get_to_sink(path, size) for _ in range(repeat))
    finally:
        c.close()


def _small_push_worker(idx, port, creds, jobs, ready):
    c = Client(port, creds)
    try:
        c.authorize(jobs[idx][0][0])
        ready()
        for repo, tag, config, cd, layer, ld, manifest in jobs[idx]:
            c.push_blob_monolithic(repo, layer, ld, head_first=True)
            c.push_blob_monolithic(repo, config, cd, head_first=True)
            c.put_manifest(repo, tag, manifest)
        return len(jobs[idx])
    finally:
        c.close()


class RoundRunner:
    """Runs every workload once against one started server, appending figures to `samples`."""

    def __init__(self, server: Server, cfg: dict, round_no: int, big: bytes, big_digest: str,
                 samples: dict, extra: dict, errors: list):
        self.s, self.cfg, self.round = server, cfg, round_no
        self.big, self.big_digest = big, big_digest
        self.samples, self.extra, self.errors = samples, extra, errors
        self.port = server.port
        self.peaks: dict[str, float] = {}

    def record(self, key: str, value: float) -> None:
        self.samples.setdefault(key, []).append(value)

    def step(self, name: str, fn) -> None:
        """One workload: reset the peak-RSS mark, run, keep the peak; a failure is recorded and the run goes on."""
        if not self.s.alive():
            self.errors.append({"registry": self.s.reg.label, "round": self.round, "workload": name,
                                "error": "server is not running", "log_tail": self.s.log_tail()})
            log(f"  {name}: FAILED (server is not running)")
            return
        self.s.reset_peak()
        t0 = time.monotonic()
        try:
            fn()
            log(f"  {name}: ok ({time.monotonic() - t0:.1f} s)")
        except Exception as e:
            msg = str(e) if isinstance(e, BenchError) else f"{type(e).__name__}: {e}"
            self.errors.append({"registry": self.s.reg.label, "round": self.round, "workload": name, "error": msg})
            log(f"  {name}: FAILED: {msg}")
            if not isinstance(e, BenchError):
                traceback.print_exc()
        try:
            self.peaks[name] = self.s.status()["VmHWM"] / 1024
        except (OSError, KeyError):
            pass

    def run(self) -> None:
        cfg = self.cfg
        st = self.s.status()
        time.sleep(1.0)
        st = self.s.status()
        self.record("rss_idle_mib", st["VmRSS"] / 1024)
        self.seed = {}
        self.step("seed small image", self.seed_small)
        if "manifest" in self.seed:
            self.step("manifest GET by tag (wrk)", lambda: self.wrk("manifest_get_tag", self.seed["by_tag"]))
            self.step("manifest GET by digest (wrk)", lambda: self.wrk("manifest_get_digest", self.seed["by_digest"]))
            self.step("tag list (wrk)", lambda: self.wrk("tag_list", self.seed["tags"]))
        self.step(f"seed {cfg['blob_mib']} MiB blob", self.seed_big)
        if self.seed.get("big"):
            self.step("blob GET, 1 stream", self.blob_get_1)
            self.step(f"blob GET, {cfg['parallel']} parallel", self.blob_get_n)
        if self.s.reg.kind == "vigil":
            self.step(f"raw file GET ({cfg['blob_mib']} MiB), 1 stream", self.raw_get_1)
        self.step("blob push, monolithic", self.settled(self.push_mono))
        self.step("blob push, chunked", self.settled(self.push_chunked))
        self.step("small image pushes", self.settled(self.small_push))
        try:
            st = self.s.status()
            self.record("rss_peak_mib", max([st["VmHWM"] / 1024, *self.peaks.values()]))
        except (OSError, KeyError):
            pass
        self.extra.setdefault("rss_peak_by_workload_mib", []).append(self.peaks)

    def settled(self, push):
        """`push` preceded by `settle_disk`, so every registry's push starts from the same state of the disk."""
        def run() -> None:
            self.extra.setdefault("disk_write_mib_s", []).append(settle_disk(self.s.dir, self.cfg["disk_settle_mib"]))
            push()
        return run

    # --- seeding and checks ---------------------------------------------------------------------------------
    def seed_small(self) -> None:
        repo = "bench/seed"
        config, cd, layer, ld, manifest, md = make_image("seed", os.urandom(4096))
        c = Client(self.port, self.s.creds)
        try:
            c.push_blob_monolithic(repo, layer, ld, head_first=True)
            c.push_blob_monolithic(repo, config, cd, head_first=True)
            tags = [f"v{i}" for i in range(1, self.cfg["seed_tags"] + 1)]
            for t in tags:
                c.put_manifest(repo, t, manifest)
            # Check what the wrk loops will read, once, before measuring.
            for ref in ("v1", md):
                resp, body = c.request("GET", f"/v2/{repo}/manifests/{ref}", headers={"Accept": ACCEPT}, expect={200})
                if body != manifest:
                    raise BenchError(f"GET manifest {ref} returned different bytes")
                got = resp.getheader("Docker-Content-Digest")
                if got and got != md:
                    raise BenchError(f"GET manifest {ref}: Docker-Content-Digest {got}, expected {md}")
            _, body = c.request("GET", f"/v2/{repo}/tags/list", expect={200})
            listed = json.loads(body).get("tags") or []
            if sorted(listed) != sorted(tags):
                raise BenchError(f"tag list returned {listed}, expected {tags}")
            resp, body = c.request("GET", f"/v2/{repo}/blobs/{ld}", expect={200})
            if body != layer:
                raise BenchError("GET layer blob returned different bytes")
        finally:
            c.close()
        self.seed.update(manifest=md, by_tag=f"/v2/{repo}/manifests/v1", by_digest=f"/v2/{repo}/manifests/{md}",
                         tags=f"/v2/{repo}/tags/list")

    def wrk(self, key: str, path: str) -> None:
        headers = {"Accept": ACCEPT} if "/manifests/" in path else {}
        c = Client(self.port, self.s.creds)
        try:
            c.authorize(repo_of(path))  # a fresh token (vigil's last 5 minutes) for the whole wrk run
            auth = c.auth_header(path)
        finally:
            c.close()
        if auth:
            headers["Authorization"] = auth
        res = run_wrk(self.port, path, self.cfg, headers)
        self.record(key, res["rps"])
        self.extra.setdefault("wrk", {}).setdefault(key, []).append(res)

    def seed_big(self) -> None:
        c = Client(self.port, self.s.creds)
        try:
            c.push_blob_monolithic("bench/big", self.big, self.big_digest)
            c.get_to_sink(f"/v2/bench/big/blobs/{self.big_digest}", len(self.big), verify_digest=self.big_digest)
        finally:
            c.close()
        self.seed["big"] = True

    # --- blobs ----------------------------------------------------------------------------------------------
    def blob_get_1(self) -> None:
        c = Client(self.port, self.s.creds)
        try:
            path = f"/v2/bench/big/blobs/{self.big_digest}"
            c.authorize("bench/big")
            self.record("blob_get_1", self.read_rate(c, path))
        finally:
            c.close()

    def read_rate(self, c: Client, path: str) -> float:
        """MiB/s of reading the big blob's bytes at `path` `blob_get_repeat` times in a row on one connection."""
        t0 = time.monotonic()
        n = sum(c.get_to_sink(path, len(self.big)) for _ in range(self.cfg["blob_get_repeat"]))
        return n / MIB / (time.monotonic() - t0)

    def blob_get_n(self) -> None:
        path = f"/v2/bench/big/blobs/{self.big_digest}"
        secs, n = run_parallel(self.cfg["parallel"], _blob_get_worker,
                               (self.port, self.s.creds, path, len(self.big), self.cfg["blob_get_parallel_repeat"]),
                               timeout=300)
        self.record("blob_get_n", n / MIB / secs)

    def raw_get_1(self) -> None:
        """vigil's raw format: the same bytes as the big blob, PUT as a file of a raw repository made through the
        admin API, then read as often as the blob (same client, same sink)."""
        c = Client(self.port, self.s.creds)
        basic = "Basic " + base64.b64encode(f"{self.s.creds[0]}:{self.s.creds[1]}".encode()).decode()
        c.tokens[None] = basic
        path = "/raw/bench/files/big.bin"
        try:
            c.request("POST", "/api/v1/repository", headers={"Content-Type": "application/json"},
                      body=json.dumps({"namespace": "bench", "repository": "files", "format": "raw"}), expect={201})
            c.request("PUT", path, body=bytes(self.big), expect={201})
            c.get_to_sink(path, len(self.big), verify_digest=self.big_digest)
            self.record("raw_get_1", self.read_rate(c, path))
        finally:
            c.close()

    def fresh_blob(self, tag: str) -> tuple[bytearray, str]:
        data = bytearray(self.big)
        stamp = f"{tag}:{self.s.reg.label}:{self.round}:{time.time_ns()}".encode()
        data[:len(stamp)] = stamp
        return data, sha256(data)

    def _verify_blob(self, c: Client, repo: str, digest: str, size: int) -> None:
        resp, _ = c.request("HEAD", f"/v2/{repo}/blobs/{digest}", expect={200})
        got = resp.getheader("Content-Length")
        if got is not None and int(got) != size:
            raise BenchError(f"HEAD {repo}@{digest}: Content-Length {got}, expected {size}")

    def _push(self, kind: str, repo: str) -> None:
        """Pushes blob_push_repeat fresh blobs one after another; the figure is total bytes / total time."""
        blobs = [self.fresh_blob(f"{kind}{i}") for i in range(self.cfg["blob_push_repeat"])]
        c = Client(self.port, self.s.creds)
        try:
            c.authorize(repo)
            t0 = time.monotonic()
            for data, digest in blobs:
                if kind == "mono":
                    c.push_blob_monolithic(repo, memoryview(data), digest)
                else:
                    c.push_blob_chunked(repo, memoryview(data), digest, self.cfg["chunk_mib"] * MIB)
            secs = time.monotonic() - t0
            for data, digest in blobs:
                self._verify_blob(c, repo, digest, len(data))
        finally:
            c.close()
        self.record("blob_push_mono" if kind == "mono" else "blob_push_chunked",
                    sum(len(d) for d, _ in blobs) / MIB / secs)

    def push_mono(self) -> None:
        self._push("mono", "bench/push-mono")

    def push_chunked(self) -> None:
        self._push("chunked", "bench/push-chunked")

    # --- many small images ----------------------------------------------------------------------------------
    def small_push(self) -> None:
        n, k = self.cfg["small_clients"], self.cfg["small_images_per_client"]
        nonce = f"{self.round}-{time.time_ns()}"
        jobs = []
        for ci in range(n):
            mine = []
            for i in range(k):
                layer = os.urandom(self.cfg["small_layer_bytes"])
                config, cd, layer, ld, manifest, _ = make_image(f"{nonce}-{ci}-{i}", layer)
                mine.append((f"bench/small-{ci}", f"i{i}", config, cd, layer, ld, manifest))
            jobs.append(mine)
        secs, images = run_parallel(n, _small_push_worker, (self.port, self.s.creds, jobs), timeout=600)
        if images != n * k:
            raise BenchError(f"pushed {images} images, expected {n * k}")
        # Spot check: the last image of each client is listed and fetchable.
        c = Client(self.port, self.s.creds)
        try:
            for ci in range(n):
                _, body = c.request("GET", f"/v2/bench/small-{ci}/tags/list", expect={200})
                if len(json.loads(body).get("tags") or []) != k:
                    raise BenchError(f"bench/small-{ci} lists {body[:200]!r}, expected {k} tags")
                c.request("GET", f"/v2/bench/small-{ci}/manifests/i{k - 1}", headers={"Accept": ACCEPT},
                          expect={200})
        finally:
            c.close()
        self.record("small_push", images / secs)
        self.extra.setdefault("small_push_seconds", []).append(secs)


# ---------------------------------------------------------------------------------------------------------------
# Machine and versions


# ---------------------------------------------------------------------------------------------------------------
# Audit log verification at scale


def verification(vigil_bin: str, cfg: dict, cache: Path) -> dict:
    """Loads `verify_events` synthetic events through the real journal writer (`vigil audit load-synthetic`, which
    also integrates the tree and signs a checkpoint), cached between runs, then times `vigil audit verify` on
    them (tree files, checkpoint, every journal entry against its leaf)."""
    n = cfg["verify_events"]
    # v2: one event in ten is a real tag change (the changefeed's records) and the query index is built.
    # v3: the events' times spread over the 31 days before the load.
    data = cache / f"audit-{n}-v3"
    marker = data / "loaded"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), "VIGIL_DATA_DIR": str(data),
           "VIGIL_AUDIT_LOG": "off"}
    out: dict = {"events": n, "data_dir": str(data)}
    if not marker.exists():
        need = n * 1200 + (1 << 30)  # ~0.9 KB per event in SQLite, 32 B in the tree, plus headroom
        free = shutil.disk_usage(cache).free
        if free < need:
            raise BenchError(f"verification data set: {need >> 30} GiB needed, {free >> 30} GiB free in {cache}")
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        log(f"loading {n} audit events through the journal writer into {data} (cached for later runs)")
        t = time.monotonic()
        r = subprocess.run([vigil_bin, "audit", "load-synthetic", "--count", str(n)], env=env,
                           capture_output=True, text=True, timeout=7200)
        if r.returncode != 0:
            raise BenchError(f"load-synthetic failed: {r.stderr[-2000:]}")
        out["load_s"] = round(time.monotonic() - t, 1)
        out["load_output"] = r.stdout.strip()
        marker.write_text(r.stdout)
    else:
        out["load_output"] = marker.read_text().strip()
    samples = []
    for i in range(cfg["verify_reps"]):
        t = time.monotonic()
        r = subprocess.run([vigil_bin, "audit", "verify"], env=env, capture_output=True, text=True, timeout=3600)
        elapsed = time.monotonic() - t
        if r.returncode != 0 or "OK: the audit log verifies" not in r.stdout:
            raise BenchError(f"vigil audit verify failed on the data set: {r.stdout[-2000:]} {r.stderr[-1000:]}")
        samples.append(elapsed)
        log(f"  verify {i + 1}/{cfg['verify_reps']}: {n} events in {elapsed:.1f} s")
    out["verify_s"] = samples
    out["verify_median_s"] = statistics.median(samples)
    out["verify_events_per_s"] = n / out["verify_median_s"]
    out["target"] = {"goal": "10 million events verified in under 30 s (scaled to this data set)",
                     "met": out["verify_median_s"] * (10_000_000 / n) < 30}
    return out


def sh(argv: list[str], timeout=20) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        return (p.stdout + p.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine() -> dict:
    info: dict[str, str] = {}
    try:
        for line in open("/proc/cpuinfo"):
            k, _, v = line.partition(":")
            info.setdefault(k.strip(), v.strip())
            if not line.strip():
                break
    except OSError:
        pass
    cpu = info.get("model name", "unknown")
    if "cpu family" in info:
        cpu += f" (family {info['cpu family']}, model {info.get('model', '?')})"
    if "hypervisor" in info.get("flags", "").split():
        cpu += ", virtual machine"
    mem_kb = 0
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    osname = ""
    try:
        for line in open("/etc/os-release"):
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    wrk_v = sh(["wrk", "-v"]).splitlines()
    return {
        "nproc": os.cpu_count(), "cpu_model": cpu, "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(), "os": osname, "python": platform.python_version(),
        "wrk": wrk_v[0] if wrk_v else "", "hostname_hash": hashlib.sha256(platform.node().encode()).hexdigest()[:8],
    }


def loadavg() -> list[float]:
    try:
        return [float(x) for x in open("/proc/loadavg").read().split()[:3]]
    except OSError:
        return []


def git_describe() -> str:
    rev = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = sh(["git", "-C", str(ROOT), "status", "--porcelain", "--", "crates", "Cargo.toml", "Cargo.lock"])
    return rev + (" (+ uncommitted changes in crates/)" if dirty else "")


# ---------------------------------------------------------------------------------------------------------------
# Reports


def fmt(v: float | None, unit: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if unit in ("MiB",):
        return f"{v:.1f}"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def compute(results: dict, figs: list[Figure], regs: list[Registry]) -> tuple[dict, dict]:
    medians = {r.label: {f.key: (statistics.median(results[r.label][f.key]) if results[r.label].get(f.key) else None)
                         for f in figs} for r in regs}
    ratios: dict = {}
    for v in (r for r in regs if r.kind == "vigil"):
        for p in (r for r in regs if r.kind != "vigil"):
            for f in figs:
                a, b = medians[v.label][f.key], medians[p.label][f.key]
                ratios.setdefault(v.label, {}).setdefault(p.label, {})[f.key] = (a / b) if a and b else None
    return medians, ratios


def variant_ratios(medians: dict, figs: list[Figure], regs: list[Registry]) -> dict:
    """Each further vigil variant ÷ the first one (e.g. audit enforced ÷ audit off): the cost of a setting."""
    vs = [r.label for r in regs if r.kind == "vigil"]
    out: dict = {}
    for v in vs[1:]:
        for f in figs:
            a, b = medians[v][f.key], medians[vs[0]][f.key]
            out.setdefault(v, {})[f.key] = (a / b) if a and b else None
    return out


def targets(medians: dict, ratios: dict, regs: list[Registry]) -> list[dict]:
    """The issue's goals, checked against this run's figures (goals, not tests)."""
    out = []
    peers = {r.kind: r.label for r in regs if r.kind != "vigil"}
    for v in (r for r in regs if r.kind == "vigil"):
        rv = ratios.get(v.label, {})

        def ratio(kind, key):
            return rv.get(peers[kind], {}).get(key) if kind in peers else None

        def add(goal, value, ok, shown):
            out.append({"variant": v.label, "goal": goal, "value": shown, "met": ok if value is not None else None})

        name = {"distribution": "Distribution", "nora": "NORA"}
        for kind, want in (("distribution", 3.0), ("nora", 2.0)):
            x = ratio(kind, "manifest_get_tag")
            add(f"Manifest GET ≥ {want:g}× {name[kind]} (req/s)", x, x is not None and x >= want,
                f"{x:.2f}×" if x is not None else "not measured")
        for kind in ("distribution", "nora"):
            x = ratio(kind, "blob_get_1")
            y = ratio(kind, "blob_get_n")
            worst = min([z for z in (x, y) if z is not None], default=None)
            add(f"Blob GET ≥ 1× {name[kind]} (1 and N streams)", worst, worst is not None and worst >= 1.0,
                f"{x:.2f}× / {y:.2f}×" if x is not None and y is not None else "not measured")
        x, y = ratio("distribution", "blob_push_mono"), ratio("distribution", "blob_push_chunked")
        worst = min([z for z in (x, y) if z is not None], default=None)
        add("Blob push ≥ 2× Distribution (monolithic, chunked)", worst, worst is not None and worst >= 2.0,
            f"{x:.2f}× / {y:.2f}×" if x is not None and y is not None else "not measured")
        raw, blob = medians[v.label].get("raw_get_1"), medians[v.label].get("blob_get_1")
        x = raw / blob if raw and blob else None
        add("Raw file GET ≥ 1× vigil's own blob GET (1 stream)", x, x is not None and x >= 1.0,
            f"{x:.2f}×" if x is not None else "not measured")
        idle, peak = medians[v.label].get("rss_idle_mib"), medians[v.label].get("rss_peak_mib")
        add("Idle RSS < 30 MiB", idle, idle is not None and idle < 30, f"{idle:.1f} MiB" if idle else "not measured")
        add("RSS under load < 150 MiB", peak, peak is not None and peak < 150,
            f"{peak:.1f} MiB" if peak else "not measured")
    labels = [r.label for r in regs if r.kind == "vigil"]
    off = next((l for l in labels if "audit off" in l), None)
    enforced = next((l for l in labels if "enforced" in l and "no tree" not in l), None)
    goal = "Enforced audit costs ≤ 10% throughput vs audit off"
    if off and enforced:
        worst = min((medians[enforced][k] / medians[off][k] for k in
                     ("manifest_get_tag", "manifest_get_digest", "tag_list", "blob_get_1", "blob_get_n",
                      "blob_push_mono", "blob_push_chunked", "small_push")
                     if medians[enforced].get(k) and medians[off].get(k)), default=None)
        out.append({"variant": enforced, "goal": goal, "value": f"worst workload {worst:.2f}× of audit off"
                    if worst is not None else "not measured", "met": worst is not None and worst >= 0.9})
    else:
        out.append({"variant": "vigil", "goal": goal, "value": "n/a", "met": None,
                    "note": "this run has no variants labelled 'audit off' and 'audit enforced'"})
    no_tree = next((l for l in labels if "no tree" in l), None)
    if no_tree and enforced:
        pushes = [medians[enforced][k] / medians[no_tree][k] for k in
                  ("blob_push_mono", "blob_push_chunked", "small_push")
                  if medians[enforced].get(k) and medians[no_tree].get(k)]
        worst = min(pushes, default=None)
        out.append({"variant": enforced, "goal": "Merkle tree integration costs < 5% push throughput",
                    "value": f"worst push workload {worst:.2f}× of the same without the tree"
                    if worst is not None else "not measured", "met": worst is not None and worst > 0.95})
    return out


def write_svg(path: Path, figs: list[Figure], ratios: dict, regs: list[Registry]) -> None:
    """A hand-written horizontal bar chart of vigil ÷ peer for the throughput figures, on a log scale."""
    main = [f for f in figs if f.main]
    series = [(v, p) for v in ratios for p in ratios[v]]
    colors = ["#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#c53030", "#319795"]
    vals = [ratios[v][p][f.key] for v, p in series for f in main if ratios[v][p].get(f.key)]
    lo = min([0.25, *vals]) if vals else 0.25
    hi = max([4.0, *vals]) if vals else 4.0
    lmin, lmax = math.floor(math.log2(lo)), math.ceil(math.log2(hi))
    left, right, top, bar_h, gap = 300, 70, 70, 16, 14
    plot_w = 460
    group_h = len(series) * bar_h + gap
    height = top + len(main) * group_h + 40 + 22 * len(series)
    width = left + plot_w + right

    def x(r: float) -> float:
        return left + (math.log2(r) - lmin) / (lmax - lmin) * plot_w

    def esc(s: str) -> str:
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
           f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">'
           f'vigil ÷ peer (higher is better for vigil; log scale)</text>',
           f'<text x="{width / 2}" y="40" text-anchor="middle" fill="#555">medians of the same run; '
           f'1× = as fast as the peer</text>']
    axis_bottom = top + len(main) * group_h
    for e in range(lmin, lmax + 1):
        gx = x(2.0 ** e)
        out.append(f'<line x1="{gx:.1f}" y1="{top - 8}" x2="{gx:.1f}" y2="{axis_bottom}" '
                   f'stroke="{"#333" if e == 0 else "#ddd"}" stroke-width="{1.5 if e == 0 else 1}"/>')
        label = f"{2.0 ** e:g}×"
        out.append(f'<text x="{gx:.1f}" y="{axis_bottom + 16}" text-anchor="middle" fill="#333">{label}</text>')
    for i, f in enumerate(main):
        gy = top + i * group_h
        out.append(f'<text x="{left - 8}" y="{gy + len(series) * bar_h / 2 + 4:.1f}" text-anchor="end">'
                   f'{esc(f.title)}</text>')
        for j, (v, p) in enumerate(series):
            r = ratios[v][p].get(f.key)
            y0 = gy + j * bar_h
            if not r:
                out.append(f'<text x="{x(1.0) + 4:.1f}" y="{y0 + bar_h - 4}" fill="#999">not measured</text>')
                continue
            x0, x1 = sorted((x(1.0), x(r)))
            out.append(f'<rect x="{x0:.1f}" y="{y0 + 1}" width="{max(x1 - x0, 1):.1f}" height="{bar_h - 2}" '
                       f'fill="{colors[j % len(colors)]}"><title>{esc(v)} ÷ {esc(p)}: {r:.2f}×</title></rect>')
            tx = x1 + 4 if r >= 1 else x0 - 4
            anchor = "start" if r >= 1 else "end"
            out.append(f'<text x="{tx:.1f}" y="{y0 + bar_h - 4}" text-anchor="{anchor}" font-size="11">'
                       f'{r:.2f}×</text>')
    ly = axis_bottom + 34
    for j, (v, p) in enumerate(series):
        out.append(f'<rect x="{left}" y="{ly + j * 22 - 11}" width="14" height="14" fill="{colors[j % len(colors)]}"/>')
        out.append(f'<text x="{left + 20}" y="{ly + j * 22}">{esc(v)} ÷ {esc(p)}</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def write_md(path: Path, doc: dict, figs: list[Figure], regs: list[Registry], svg_name: str | None) -> None:
    med, ratios = doc["medians"], doc["ratios"]
    m = doc["machine"]
    cfg = doc["config"]
    L = []
    L.append("# Benchmarks" if doc["mode"] == "full" else "# Benchmarks (smoke run — not comparable figures)")
    L.append("")
    L.append(f"Generated by `{doc['command']}` on {doc['date']} (took {doc['elapsed_s'] / 60:.1f} min). "
             f"vigil at `{doc['vigil_commit']}`. Do not edit by hand: rerun the command.")
    L.append("")
    L.append("Each figure is the median of " + (f"{cfg['reps']} rounds" if cfg["reps"] > 1 else "1 round") +
             "; in every round each registry is started fresh, seeded and run through every workload, one registry "
             "after another, all on 127.0.0.1. The machine is shared and noisy: **the ratios measured in the same "
             "run are what count**, not the absolute numbers. A ratio is vigil ÷ peer: above 1× vigil is faster "
             "(for throughput) or uses more memory (for RSS).")
    L.append("")
    if svg_name:
        L.append(f"![vigil ÷ peer ratios]({svg_name})")
        L.append("")
    L.append("## Results")
    L.append("")
    peer_cols = [(v, p) for v in ratios for p in ratios[v]]
    head = ["Workload", "Unit", *[r.label for r in regs], *[f"{v} ÷ {p}" for v, p in peer_cols]]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "|".join(["---", "---"] + ["---:"] * (len(head) - 2)) + "|")
    for f in figs:
        row = [f.title, f.unit + ("" if f.higher_is_better else " (lower is better)")]
        row += [fmt(med[r.label].get(f.key), f.unit) for r in regs]
        for v, p in peer_cols:
            x = ratios[v][p].get(f.key)
            row.append(f"{x:.2f}×" if x else "—")
        L.append("| " + " | ".join(row) + " |")
    L.append("")
    vr = doc.get("variant_ratios") or {}
    if vr:
        first = next(r.label for r in regs if r.kind == "vigil")
        L.append(f"vigil variants relative to **{first}** (below 1× for throughput = the setting costs that much):")
        L.append("")
        L.append("| Workload | " + " | ".join(f"{v} ÷ {first}" for v in vr) + " |")
        L.append("|---|" + "---:|" * len(vr))
        for f in figs:
            L.append(f"| {f.title} | " + " | ".join(f"{vr[v][f.key]:.2f}×" if vr[v].get(f.key) else "—" for v in vr)
                     + " |")
        L.append("")
    # latency
    lat_rows = []
    for f in figs:
        if not f.key.startswith(("manifest", "tag_list")):
            continue
        cells = []
        for r in regs:
            runs = doc["extra"].get(r.label, {}).get("wrk", {}).get(f.key, [])
            p50 = [x["latency_ms"].get("p50") for x in runs if x["latency_ms"].get("p50") is not None]
            p99 = [x["latency_ms"].get("p99") for x in runs if x["latency_ms"].get("p99") is not None]
            cells.append(f"{statistics.median(p50):.2f} / {statistics.median(p99):.2f}" if p50 and p99 else "—")
        lat_rows.append(f"| {f.title} | " + " | ".join(cells) + " |")
    if lat_rows:
        L.append(f"wrk latency, p50 / p99 in ms ({cfg['wrk_connections']} connections, {cfg['wrk_threads']} threads, "
                 f"{cfg['wrk_seconds']} s per figure):")
        L.append("")
        L.append("| Workload | " + " | ".join(r.label for r in regs) + " |")
        L.append("|---|" + "---:|" * len(regs))
        L.extend(lat_rows)
        L.append("")
    av = doc.get("audit_verification")
    if av:
        L.append("## Audit log verification")
        L.append("")
        L.append(f"`vigil audit verify` on {av['events']:,} synthetic push events loaded through the real journal "
                 f"writer (`vigil audit load-synthetic`: {av['load_output']}). It checks the tree files, the signed "
                 "checkpoint, and every journal entry against its leaf.")
        L.append("")
        L.append("| Events | Verify, median (s) | Events/s | Samples (s) | Goal (10 M in < 30 s) |")
        L.append("|---:|---:|---:|---|---|")
        met = "yes" if av["target"]["met"] else "**no**"
        L.append(f"| {av['events']:,} | {av['verify_median_s']:.1f} | {av['verify_events_per_s']:,.0f} | "
                 f"{', '.join(f'{x:.1f}' for x in av['verify_s'])} | {met} |")
        L.append("")
    aq = doc.get("audit_queries")
    if aq:
        L.extend(audit_queries.markdown(aq))
    if doc.get("forwarding"):
        L.extend(forwarding.markdown(doc["forwarding"]))
    if doc.get("soak"):
        L.extend(soak.markdown(doc["soak"]))
    L.append("## Targets (from the benchmark issue; goals, not tests)")
    L.append("")
    L.append("| Variant | Goal | This run | Met |")
    L.append("|---|---|---|---|")
    for t in doc["targets"]:
        met = {True: "yes", False: "**no**", None: "—"}[t["met"]]
        val = t["value"] + (f" ({t['note']})" if t.get("note") else "")
        L.append(f"| {t['variant']} | {t['goal']} | {val} | {met} |")
    L.append("")
    if doc["errors"]:
        L.append("## Failures")
        L.append("")
        for e in doc["errors"]:
            L.append(f"- {e['registry']}, round {e['round']}, {e['workload']}: {e['error']}")
        L.append("")
    L.append("## Registries")
    L.append("")
    for r in regs:
        L.append(f"- **{r.label}** — {r.version or 'version unknown'}. {r.notes}")
    L.append("")
    L.append("## Machine")
    L.append("")
    L.append(f"- {m['nproc']} CPUs: {m['cpu_model']}")
    L.append(f"- {m['memory_gib']} GiB memory; kernel {m['kernel']}; {m['os']}")
    L.append(f"- {m['wrk']}; Python {m['python']} (the load clients)")
    la = doc.get("loadavg", {})
    if la:
        L.append(f"- load average (1/5/15 min) at start {la.get('start')}, at end {la.get('end')} — the machine is "
                 "shared, and the clients run on the same 2 cores as the server")
    L.append("")
    L.append("## Workloads")
    L.append("")
    b, c = cfg["blob_mib"], cfg["chunk_mib"]
    L.append(f"- **Manifest GET by tag / by digest, tag list**: `wrk -t{cfg['wrk_threads']} -c{cfg['wrk_connections']} "
             f"-d{cfg['wrk_seconds']}s` against a small OCI image pushed first (one 4 KiB layer, {cfg['seed_tags']} "
             "tags); any non-2xx response or socket error fails the run.")
    L.append(f"- **Blob GET**: a {b} MiB random blob, read {cfg['blob_get_repeat']} times in a row by one client, then "
             f"{cfg['blob_get_parallel_repeat']} times each by {cfg['parallel']} client processes at once (total bytes ÷ "
             "wall time). Its digest is checked once per round.")
    L.append(f"- **Blob push**: {cfg['blob_push_repeat']} fresh {b} MiB blobs per round, one after another; monolithic = `POST` then `PUT ?digest=` with the body; "
             f"chunked = `POST`, `PATCH` {c} MiB chunks with `Content-Range`, then an empty `PUT ?digest=`. Timed from "
             "the first `POST` to the last `201`; every blob is checked with `HEAD` afterwards.")
    L.append(f"- **Small image pushes**: {cfg['small_clients']} client processes each push "
             f"{cfg['small_images_per_client']} images (per image: `HEAD`+`POST`+`PUT` for a {cfg['small_layer_bytes']} B "
             "layer and for the config, then `PUT` of the manifest); images ÷ wall time.")
    settles = [r for e in doc["extra"].values() for r in e.get("disk_write_mib_s", [])]
    if settles:
        L.append(f"- **The disk before each push workload**: {cfg['disk_settle_mib']} MiB are written and fsynced "
                 "next to the server's data and deleted, so that every registry's pushes start on the disk's "
                 "sustained rate instead of whatever burst it had saved up while the read workloads ran. That rate "
                 f"(the last {min(64, cfg['disk_settle_mib'])} MiB of each settle) was "
                 f"{statistics.median(settles):.0f} MiB/s (median of {len(settles)}, range "
                 f"{min(settles):.0f}–{max(settles):.0f}; the disk refills some burst in any pause, so a push can "
                 "beat it). All three registries fsync each blob before answering `201` (checked with "
                 "`strace -e fsync`), so their push figures depend on the disk as much as on the registry.")
    L.append("- **RSS**: `VmRSS` one second after the server answers `GET /v2/` (idle, median of rounds), and the "
             "highest `VmHWM` seen over the workloads (peak, median of rounds), from `/proc/PID/status`.")
    L.append("")
    L.append("Raw samples, wrk output figures, per-workload peaks and the configuration are in "
             "[benchmarks.json](benchmarks.json). How to run and read this: [bench/README.md](../bench/README.md).")
    path.write_text("\n".join(L) + "\n")


# ---------------------------------------------------------------------------------------------------------------


def shown(path: str) -> str:
    """A path as shown in the report: relative to the repository when inside it."""
    p = Path(path)
    return str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="short run for CI; writes to a temporary directory")
    ap.add_argument("--vigil-bin", required=True)
    ap.add_argument("--distribution-bin", help="docker-registry binary (omit to skip CNCF Distribution)")
    ap.add_argument("--nora-bin", help="nora binary (omit to skip NORA)")
    ap.add_argument("--registries", help="comma list of kinds to run: vigil,distribution,nora")
    ap.add_argument("--variant", action="append", default=[], metavar="'LABEL:K=V,K=V'",
                    help="run vigil under this variant instead of the built-in list (repeatable); "
                         "BIN=path runs another vigil binary")
    ap.add_argument("--out", help="output directory (default: docs/ for a full run, a temporary directory for smoke)")
    ap.add_argument("--reps", type=int, help="rounds (median of them); overrides the profile")
    ap.add_argument("--wrk-seconds", type=int, help="wrk duration per figure; overrides the profile")
    ap.add_argument("--command", default="bench/run", help=argparse.SUPPRESS)
    args = ap.parse_args()

    for a in ("vigil_bin", "distribution_bin", "nora_bin"):
        if getattr(args, a):
            setattr(args, a, os.path.abspath(getattr(args, a)))
    mode = "smoke" if args.smoke else "full"
    cfg = dict(PROFILES[mode])
    if args.reps:
        cfg["reps"] = args.reps
    if args.wrk_seconds:
        cfg["wrk_seconds"] = args.wrk_seconds
    if mode == "full" and cfg["reps"] < 3:
        log(f"note: {cfg['reps']} round(s); the documented full run uses at least 3")

    wanted = set((args.registries or "vigil,distribution,nora").split(","))
    variants = VIGIL_VARIANTS
    if args.variant:
        variants = []
        for spec in args.variant:
            label, _, kvs = spec.partition(":")
            env = dict(kv.split("=", 1) for kv in kvs.split(",") if kv)
            variants.append((label, env))

    regs: list[Registry] = []
    skipped: list[str] = []
    vigil_v = sh([args.vigil_bin, "--version"])
    if "vigil" in wanted:
        for label, env in variants:
            # `BIN=path` in a variant runs another vigil build (an older commit, side by side with this one).
            binary = env.pop("BIN", args.vigil_bin)
            vigil_v = sh([binary, "--version"])
            regs.append(Registry(label, "vigil", binary, env, vigil_v,
                                 f"`{shown(binary)}`; environment: PATH, HOME, VIGIL_DATA_DIR, VIGIL_ADMIN_PASSWORD"
                                 + "".join(f", {k}={v}" for k, v in env.items()) + "; default configuration. "
                                 "Authentication is always on: the clients log in as the first-start admin with the "
                                 "docker token flow (Basic to `/auth/token`, once per client and repository, before "
                                 "the clock starts) and send `Authorization: Bearer` on every request, wrk included."))
    if "distribution" in wanted:
        if args.distribution_bin:
            regs.append(Registry("Distribution", "distribution", args.distribution_bin, {},
                                 sh([args.distribution_bin, "--version"]),
                                 "Debian's `docker-registry` package with its shipped config.yml minus auth "
                                 "(filesystem storage, in-memory blob descriptor cache, delete enabled, default "
                                 "info logging to a file); no authentication."))
        else:
            skipped.append("Distribution (docker-registry not installed)")
    if "nora" in wanted:
        if args.nora_bin:
            regs.append(Registry("NORA", "nora", args.nora_bin, {}, sh([args.nora_bin, "--version"]),
                                 "`cargo install nora-registry --version 1.4.3`; NORA_RATE_LIMIT_ENABLED=false, "
                                 "NORA_AUDIT_LOG=file (its audit file on), NORA_DOCKER_PROXIES= (no Docker Hub "
                                 "upstream), otherwise defaults (no authentication)."))
        else:
            skipped.append("NORA (" + ("not run in smoke mode: it takes ~7 minutes to compile" if mode == "smoke"
                                       else "no --nora-bin") + ")")
    if not any(r.kind == "vigil" for r in regs):
        log("nothing to do: vigil is not among the registries")
        return 2
    for s in skipped:
        log(f"SKIP: {s}")

    if args.out:
        out_dir = Path(args.out)
    elif mode == "smoke":
        out_dir = Path(tempfile.mkdtemp(prefix="vigil-bench-smoke."))
    else:
        out_dir = ROOT / "docs"
    out_dir.mkdir(parents=True, exist_ok=True)

    def on_deadline(signum, frame):
        raise BenchError(f"the run exceeded its time limit of {cfg['deadline_s']} s")

    def on_term(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGALRM, on_deadline)
    signal.signal(signal.SIGTERM, on_term)
    signal.alarm(cfg["deadline_s"])

    figs = figures(cfg)
    t_start = time.monotonic()
    started = dt.datetime.now(dt.timezone.utc)
    la_start = loadavg()
    log(f"{mode} run: {', '.join(r.label for r in regs)}; {cfg['reps']} round(s); wrk {cfg['wrk_seconds']} s; "
        f"blobs {cfg['blob_mib']} MiB; output {out_dir}")

    big = os.urandom(cfg["blob_mib"] * MIB)
    big_digest = sha256(big)
    results = {r.label: {} for r in regs}
    extra = {r.label: {} for r in regs}
    errors: list[dict] = []
    work = Path(tempfile.mkdtemp(prefix="vigil-bench-work."))
    current: Server | None = None
    interrupted = False
    try:
        for rnd in range(1, cfg["reps"] + 1):
            for i, reg in enumerate(regs):
                log(f"round {rnd}/{cfg['reps']}: {reg.label} (load average {loadavg()})")
                current = Server(reg, work / f"r{rnd}-{i}-{reg.kind}")
                try:
                    current.start()
                except BenchError as e:
                    errors.append({"registry": reg.label, "round": rnd, "workload": "start", "error": str(e)})
                    log(f"  start: FAILED: {e}")
                    current.stop()
                    current = None
                    continue
                log(f"  listening on 127.0.0.1:{current.port} (pid {current.proc.pid})")
                RoundRunner(current, cfg, rnd, big, big_digest, results[reg.label], extra[reg.label], errors).run()
                if not current.alive():
                    errors.append({"registry": reg.label, "round": rnd, "workload": "end of round",
                                   "error": f"server exited ({current.proc.returncode})",
                                   "log_tail": current.log_tail()})
                extra[reg.label].setdefault("loadavg_after_round", []).append(loadavg())
                current.stop()
                current = None
    except (KeyboardInterrupt, BenchError) as e:
        interrupted = True
        msg = str(e) or "interrupted"
        errors.append({"registry": current.reg.label if current else "-", "round": 0, "workload": "run",
                       "error": msg})
        log(f"stopping: {msg}")
    finally:
        signal.alarm(0)
        if current is not None:
            current.stop()
        shutil.rmtree(work, ignore_errors=True)

    audit_verify = audit_query = None
    if not interrupted and any(r.kind == "vigil" for r in regs):
        try:
            cache = Path(os.environ.get("BENCH_CACHE_DIR", Path.home() / ".cache" / "vigil-bench"))
            if mode == "smoke":
                cache = Path(tempfile.mkdtemp(prefix="vigil-bench-verify."))
            cache.mkdir(parents=True, exist_ok=True)
            audit_verify = verification(args.vigil_bin, cfg, cache)
            log("audit queries on the same data set")
            audit_query = audit_queries.run(args.vigil_bin, Path(audit_verify["data_dir"]), cfg, log, BenchError)
            if mode == "smoke":
                shutil.rmtree(cache, ignore_errors=True)
        except (BenchError, subprocess.TimeoutExpired) as e:
            errors.append({"registry": "vigil", "round": 0, "workload": "audit verification", "error": str(e)})
            log(f"audit verification: FAILED: {e}")
    forwarding_doc = None
    if not interrupted and any(r.kind == "vigil" for r in regs):
        try:
            log("forwarding: each network sink against a receiver on 127.0.0.1")
            forwarding_doc = forwarding.run(args.vigil_bin, cfg, run_wrk, log, BenchError)
        except (BenchError, subprocess.TimeoutExpired) as e:
            errors.append({"registry": "vigil", "round": 0, "workload": "forwarding", "error": str(e)})
            log(f"forwarding: FAILED: {e}")
    soak_doc = None
    if not interrupted and any(r.kind == "vigil" for r in regs):
        seconds = 600 if mode == "full" else 60
        log(f"soak: 64 clients for {seconds} s")
        try:
            soak_doc = soak.run(args.vigil_bin, seconds, log=log)
            for check, ok in soak_doc["checks"].items():
                if not ok:
                    errors.append({"registry": "vigil", "round": 0, "workload": "soak", "error": f"failed: {check}"})
        except (OSError, subprocess.SubprocessError, SystemExit) as e:
            errors.append({"registry": "vigil", "round": 0, "workload": "soak", "error": str(e)})
            log(f"soak: FAILED: {e}")
    medians, ratios = compute(results, figs, regs)
    doc = {
        "schema": 1, "mode": mode, "command": args.command, "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "elapsed_s": round(time.monotonic() - t_start, 1), "vigil_commit": git_describe(),
        "machine": machine(), "loadavg": {"start": la_start, "end": loadavg()}, "config": cfg,
        "registries": [r.__dict__ for r in regs], "skipped": skipped,
        "figures": [f.__dict__ for f in figs],
        "samples": results, "medians": medians, "ratios": ratios, "extra": extra, "errors": errors,
    }
    doc["variant_ratios"] = variant_ratios(medians, figs, regs)
    doc["audit_verification"] = audit_verify
    doc["audit_queries"] = audit_query
    doc["forwarding"] = forwarding_doc
    doc["soak"] = soak_doc
    doc["targets"] = targets(medians, ratios, regs)
    json_path, md_path, svg_path = out_dir / "benchmarks.json", out_dir / "benchmarks.md", out_dir / "benchmarks.svg"
    json_path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if ratios:
        write_svg(svg_path, figs, ratios, regs)
    write_md(md_path, doc, figs, regs, svg_path.name if ratios else None)

    # console summary
    print(f"\n{'workload':52} " + " ".join(f"{r.label[:20]:>20}" for r in regs))
    for f in figs:
        print(f"{f.title + ' (' + f.unit + ')':52} " +
              " ".join(f"{fmt(medians[r.label][f.key], f.unit):>20}" for r in regs))
    for v in ratios:
        for p in ratios[v]:
            print(f"{v} ÷ {p}: " + ", ".join(f"{f.key} {ratios[v][p][f.key]:.2f}×" for f in figs
                                            if ratios[v][p].get(f.key)))
    print(f"\nwrote {md_path}, {json_path}" + (f", {svg_path}" if ratios else ""))
    print(f"elapsed {doc['elapsed_s']:.0f} s")
    for s in skipped:
        print(f"skipped: {s}")
    if errors:
        print(f"\nFAILED: {len(errors)} workload(s) failed:")
        for e in errors:
            print(f"  - {e['registry']}, round {e['round']}, {e['workload']}: {e['error']}")
        return 1
    if interrupted:
        return 1
    missing = [f"{r.label}: {f.key}" for r in regs for f in figs
               if medians[r.label][f.key] is None and (r.kind == "vigil" or not f.vigil_only)]
    if missing:
        print(f"\nFAILED: no figure for {', '.join(missing)}")
        return 1
    print("all workloads passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
