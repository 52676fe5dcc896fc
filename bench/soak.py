"""Soak: 64 clients for a long while (10 minutes in the full run, 60 s in CI) mixing pushes, pulls, denials,
logins and failed logins against one vigil, then three checks, each counted on both sides:

- every request a client sent (each carries a unique `User-Agent: soak/<client>/<n>`) is in the journal exactly
  once (the enforced file sink, which holds every committed event);
- no answer was a 5xx;
- memory stays flat: the resident set of the last third of the run is within 25% of the first third's (after the
  first 10% of the run, while caches fill).

Run alone: `python3 bench/soak.py --vigil-bin target/release/vigil --seconds 600 [--out docs/benchmarks-soak.md]`;
`bench/run` runs it (60 s with `--smoke`).
"""

import argparse
import base64
import hashlib
import http.client
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import vigil_process

ADMIN_PASSWORD = "soak-admin-password"
USER, USER_PASSWORD = "soaker", "soak-user-password"
OCI = "application/vnd.oci.image.manifest.v1+json"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


ADMIN = basic("admin", ADMIN_PASSWORD)


def start(vigil_bin: str, work: Path):
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""),
           "VIGIL_DATA_DIR": str(work / "data"), "VIGIL_ADMIN_PASSWORD": ADMIN_PASSWORD, "RUST_LOG": "warn",
           # Failed logins are the workload here, not an attack to stop: the throttle would answer 429 (still
           # journaled), which the soak counts as it counts every other answer.
           "VIGIL_AUTH__MAX_FAILURES_PER_USER": "1000000", "VIGIL_AUTH__MAX_FAILURES_PER_IP": "1000000"}
    (work / "cwd").mkdir(parents=True)
    proc, port = vigil_process.serve(vigil_bin, env, SystemExit, cwd=work / "cwd")
    subprocess.run([vigil_bin, "user", "add", USER, "--password-stdin"], input=USER_PASSWORD + "\n", text=True,
                   env=env, cwd=work / "cwd", check=True, capture_output=True, timeout=60)
    return proc, port


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Client(threading.Thread):
    def __init__(self, index: int, port: int, stop_at: float):
        super().__init__(daemon=True)
        self.index, self.port, self.stop_at = index, port, stop_at
        self.sent: list[str] = []
        self.statuses: Counter = Counter()
        self.errors: list[str] = []
        self.rnd = random.Random(index)
        self.pushed: list[tuple[str, str, str]] = []  # (repo, tag, layer digest)
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(self, method: str, path: str, auth: str | None, body: bytes = b"", headers=None) -> int:
        agent = f"soak/{self.index}/{len(self.sent)}"
        h = {"User-Agent": agent, "Content-Length": str(len(body)), **(headers or {})}
        if auth:
            h["Authorization"] = auth
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=h)
                resp = self.conn.getresponse()
                resp.read()
                break
            except (http.client.HTTPException, OSError) as e:
                # A connection the server closed between requests (idle timeout) is reopened once; the request
                # was not answered, so it is sent again with the same agent.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
                if attempt == 1:
                    self.errors.append(f"{method} {path}: {e}")
                    return 0
        self.sent.append(agent)
        self.statuses[resp.status] += 1
        return resp.status

    def push(self):
        repo, tag = f"soak/c{self.index}", f"t{len(self.pushed)}"
        layer = os.urandom(256)
        config = json.dumps({"architecture": "amd64", "os": "linux", "soak": len(self.sent)}).encode()
        digests = []
        for blob in (config, layer):
            d = "sha256:" + hashlib.sha256(blob).hexdigest()
            self.request("POST", f"/v2/{repo}/blobs/uploads/?digest={d}", ADMIN, blob,
                         {"Content-Type": "application/octet-stream"})
            digests.append((d, len(blob)))
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digests[0][0],
                       "size": digests[0][1]},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digests[1][0],
                        "size": digests[1][1]}],
        }).encode()
        if self.request("PUT", f"/v2/{repo}/manifests/{tag}", ADMIN, manifest, {"Content-Type": OCI}) == 201:
            self.pushed.append((repo, tag, digests[1][0]))

    def run(self):
        while time.monotonic() < self.stop_at:
            op = self.rnd.random()
            if op < 0.15 or not self.pushed:
                self.push()
            elif op < 0.55:
                repo, tag, layer = self.rnd.choice(self.pushed)
                self.request("GET", f"/v2/{repo}/manifests/{tag}", ADMIN, headers={"Accept": OCI})
                self.request("GET", f"/v2/{repo}/blobs/{layer}", ADMIN)
            elif op < 0.7:
                repo, tag, _ = self.rnd.choice(self.pushed)
                self.request("GET", f"/v2/{repo}/manifests/{tag}", basic(USER, USER_PASSWORD),
                             headers={"Accept": OCI})  # denied: the user has no grant on soak/*
            elif op < 0.85:
                self.request("GET", "/v2/", basic(USER, USER_PASSWORD))
            else:
                self.request("GET", "/v2/", basic(USER, "wrong-" + str(self.rnd.randrange(10**6))))


def journal_agents(path: Path) -> Counter:
    seen: Counter = Counter()
    with open(path, "rb") as f:
        for line in f:
            if b'"soak/' not in line:
                continue
            agent = json.loads(line).get("request", {}).get("user_agent") or ""
            if agent.startswith("soak/"):
                seen[agent] += 1
    return seen


def run(vigil_bin: str, seconds: int, clients: int = 64, log=print) -> dict:
    work = Path(tempfile.mkdtemp(prefix="vigil-soak."))
    proc, port = start(vigil_bin, work)
    samples: list[tuple[float, int]] = []
    try:
        t0 = time.monotonic()
        stop_at = t0 + seconds
        threads = [Client(i, port, stop_at) for i in range(clients)]
        for t in threads:
            t.start()
        while any(t.is_alive() for t in threads):
            samples.append((time.monotonic() - t0, rss_kib(proc.pid)))
            time.sleep(1)
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        sent = [a for t in threads for a in t.sent]
        statuses = sum((t.statuses for t in threads), Counter())
        errors = [e for t in threads for e in t.errors]
        # Every answered request's event committed before its answer (enforced): the file already holds them all.
        seen = journal_agents(work / "data" / "audit.jsonl")
        sent_set = set(sent)
        missing = [a for a in sent if seen[a] == 0]
        twice = [a for a, n in seen.items() if n > 1]
        unknown = [a for a in seen if a not in sent_set]
        steady = [kib for t, kib in samples if t >= seconds * 0.1]
        third = max(len(steady) // 3, 1)
        first, last = statistics.median(steady[:third] or [0]), statistics.median(steady[-third:] or [0])
        out = {
            "seconds": seconds, "clients": clients, "requests": len(sent), "requests_per_s": len(sent) / elapsed,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "server_errors": sum(v for k, v in statuses.items() if k >= 500), "client_errors": errors[:5],
            "journaled": sum(seen.values()), "missing": len(missing), "twice": len(twice), "unknown": len(unknown),
            "rss_first_third_mib": first / 1024, "rss_last_third_mib": last / 1024,
            "rss_peak_mib": max(kib for _, kib in samples) / 1024,
        }
        out["checks"] = {
            "every request journaled exactly once": not missing and not twice and not unknown and not errors,
            "no 5xx": out["server_errors"] == 0,
            "memory flat (last third within 25% of the first)": last <= first * 1.25,
        }
        log(f"  soak: {len(sent):,} requests in {elapsed:.0f} s by {clients} clients; statuses {out['statuses']}; "
            f"journaled {out['journaled']:,} (missing {len(missing)}, twice {len(twice)}); RSS {first / 1024:.0f} → "
            f"{last / 1024:.0f} MiB (peak {out['rss_peak_mib']:.0f})")
        return out
    finally:
        vigil_process.stop(proc)


def markdown(s: dict) -> list[str]:
    L = ["## Soak", ""]
    L.append(f"{s['clients']} clients for {s['seconds']} s mixing pushes (two blobs and a manifest), pulls (manifest "
             "and blob), denied pulls, logins and failed logins, each request with a unique user agent "
             "(`bench/soak.py`).")
    L.append("")
    L.append("| Requests | Requests/s | Statuses | Journaled | Missing | Twice | RSS first third | RSS last third | "
             "RSS peak |")
    L.append("|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    statuses = ", ".join(f"{k}: {v:,}" for k, v in s["statuses"].items())
    L.append(f"| {s['requests']:,} | {s['requests_per_s']:,.0f} | {statuses} | {s['journaled']:,} | {s['missing']} | "
             f"{s['twice']} | {s['rss_first_third_mib']:.0f} MiB | {s['rss_last_third_mib']:.0f} MiB | "
             f"{s['rss_peak_mib']:.0f} MiB |")
    L.append("")
    for check, ok in s["checks"].items():
        L.append(f"- {check}: {'yes' if ok else '**no**'}")
    L.append("")
    return L


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vigil-bin", required=True)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--out", help="write the figures as Markdown here")
    args = ap.parse_args()
    result = run(args.vigil_bin, args.seconds, args.clients)
    text = "\n".join(["# Soak benchmark", ""] + markdown(result)[2:])
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    if not all(result["checks"].values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
