"""Audit query figures at scale: vigil serving the data set that `vigil audit load-synthetic` loaded (10 million
events in the full run, one in ten a real tag change, so the trust changefeed holds a tenth as many records), with
the query index built. Measured over HTTP on 127.0.0.1 from one keep-alive client:

- a filtered page: `GET /api/v1/audit/events?repository=…&from=…&to=…` (one repository, one day of the data
  set's 31, 100 per page);
- a 31-day aggregate: `GET /api/v1/audit/aggregate?group_by=day,kind` over the data set's 31 days, the whole log
  and one repository;
- a changefeed page: `GET /v2/_trust/changefeed?change_id=…&records=100` at random positions, globally and for one
  repository;
- NDJSON export: `GET /api/v1/audit/events` with `Accept: application/x-ndjson`, one user's events and a tenth of
  the log by time, read to the end;
- the web UI's usage-logs page (a signed-in browser session: table of 50, the chart from aggregates): filtered to
  one repository and one day, and over the data set's 31 days for the whole log (the chart's widest range).

Latencies are client-side wall times (request sent to last byte read), so they include Python's own overhead.
"""

import base64
import datetime
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import time
import urllib.parse
from pathlib import Path

import vigil_process

DAY_S = 86_400


class Api:
    """One keep-alive connection, Basic auth as the global admin."""

    def __init__(self, port: int, password: str):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.auth = "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()

    def get(self, path: str, accept: str = "application/json") -> tuple[int, bytes, float]:
        t = time.perf_counter()
        self.conn.request("GET", path, headers={"Authorization": self.auth, "Accept": accept})
        resp = self.conn.getresponse()
        body = resp.read()
        return resp.status, body, time.perf_counter() - t

    def json(self, path: str, fail) -> tuple[dict, float]:
        status, body, elapsed = self.get(path)
        if status != 200:
            raise fail(f"GET {path} answered {status}: {body[:300]!r}")
        return json.loads(body), elapsed

    def count_lines(self, path: str, accept: str, fail) -> tuple[int, float]:
        """Streams a response to the end, counting its lines without keeping it."""
        t = time.perf_counter()
        self.conn.request("GET", path, headers={"Authorization": self.auth, "Accept": accept})
        resp = self.conn.getresponse()
        if resp.status != 200:
            raise fail(f"GET {path} answered {resp.status}: {resp.read()[:300]!r}")
        lines = 0
        while chunk := resp.read(1 << 20):
            lines += chunk.count(b"\n")
        return lines, time.perf_counter() - t


class UiSession:
    """A signed-in web UI session, as a browser holds it: sign-in form, CSRF cookie, session cookie."""

    def __init__(self, port: int, password: str, fail):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.conn.request("GET", "/ui/login")
        resp = self.conn.getresponse()
        page = resp.read().decode()
        csrf_cookie = re.search(r"vigil_login_csrf=([0-9a-f]+)", resp.getheader("set-cookie") or "")
        csrf_field = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        if not (csrf_cookie and csrf_field):
            raise fail("the UI's sign-in form has no CSRF token")
        form = urllib.parse.urlencode({"username": "admin", "password": password, "csrf": csrf_field.group(1),
                                       "next": "/ui/"})
        self.conn.request("POST", "/ui/login", body=form, headers={
            "Content-Type": "application/x-www-form-urlencoded", "Cookie": f"vigil_login_csrf={csrf_cookie.group(1)}"})
        resp = self.conn.getresponse()
        resp.read()
        session = re.search(r"vigil_session=(vgt_[A-Za-z0-9_]+)", " ".join(resp.headers.get_all("set-cookie") or []))
        if resp.status != 303 or not session:
            raise fail(f"signing in to the UI answered {resp.status} without a session")
        self.cookie = f"vigil_session={session.group(1)}"

    def page(self, path: str, fail) -> tuple[bytes, float]:
        t = time.perf_counter()
        self.conn.request("GET", path, headers={"Cookie": self.cookie, "Accept": "text/html"})
        resp = self.conn.getresponse()
        body = resp.read()
        elapsed = time.perf_counter() - t
        if resp.status != 200:
            raise fail(f"GET {path} answered {resp.status}: {body[:300]!r}")
        return body, elapsed


def rfc3339(epoch_s: float) -> str:
    return datetime.datetime.fromtimestamp(epoch_s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(ts: str) -> float:
    return datetime.datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def pct(samples: list[float], p: float) -> float:
    s = sorted(samples)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def latency(samples_s: list[float]) -> dict:
    ms = [x * 1000 for x in samples_s]
    return {"n": len(ms), "median_ms": statistics.median(ms), "p99_ms": pct(ms, 99), "max_ms": max(ms)}


def start_server(vigil_bin: str, data: Path, fail) -> tuple[subprocess.Popen, int, str]:
    pw_file = data / "bench-admin-password"
    if not pw_file.exists():  # the first start creates the admin with it; later starts reuse the account
        pw_file.write_text("bench-" + os.urandom(12).hex())
    password = pw_file.read_text().strip()
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", ""), "VIGIL_DATA_DIR": str(data),
           "VIGIL_ADMIN_PASSWORD": password, "VIGIL_AUDIT_LOG": "off", "RUST_LOG": "warn"}
    # The start checks every tile of the tree against its parent: a large data set takes a while.
    proc, port = vigil_process.serve(vigil_bin, env, fail, timeout=300, what="vigil on the query data set")
    return proc, port, password


def run(vigil_bin: str, data: Path, cfg: dict, log, fail) -> dict:
    proc, port, password = start_server(vigil_bin, data, fail)
    try:
        out = measure(Api(port, password), cfg, log, fail)
        ui_pages(UiSession(port, password, fail), out, cfg, log, fail)
        return out
    finally:
        vigil_process.stop(proc)


def measure(api: Api, cfg: dict, log, fail) -> dict:
    rnd = random.Random(7)
    n_pages = cfg["query_pages"]
    first, _ = api.json("/api/v1/audit/events?order=asc&limit=1", fail)
    last, _ = api.json("/api/v1/audit/events?limit=1", fail)
    t0, t1 = parse_ts(first["events"][0]["ts"]), parse_ts(last["events"][0]["ts"])
    head = last["events"][0]["seq"]
    day = t0 - t0 % DAY_S
    out: dict = {"events": head, "first_ts": first["events"][0]["ts"], "last_ts": last["events"][0]["ts"]}

    # A filtered page: one repository, one of the data set's days.
    samples, sizes = [], []
    days = max(1, int((t1 - day) // DAY_S))
    for _ in range(n_pages):
        d = day + rnd.randrange(days) * DAY_S
        q_day = f"from={urllib.parse.quote(rfc3339(d))}&to={urllib.parse.quote(rfc3339(d + DAY_S))}"
        page, elapsed = api.json(f"/api/v1/audit/events?repository=bench/app{rnd.randrange(100)}&{q_day}&limit=100",
                                 fail)
        samples.append(elapsed)
        sizes.append(len(page["events"]))
    if max(sizes) == 0:
        raise fail("every filtered page came back empty: the data set's days hold no events of the repositories")
    out["filtered_page"] = {**latency(samples), "events_per_page": statistics.median(sizes),
                            "query": "repository=bench/appN, one of the data set's days, limit=100"}
    log(f"  filtered page: p99 {out['filtered_page']['p99_ms']:.1f} ms over {n_pages}")

    # 31-day aggregates: the whole log, and one repository.
    q31 = f"from={urllib.parse.quote(rfc3339(day))}&to={urllib.parse.quote(rfc3339(day + 31 * DAY_S))}"
    for name, extra, reps in (("aggregate_31d_all", "", cfg["aggregate_reps"]),
                              ("aggregate_31d_repository", "&repository=bench/app{r}", n_pages // 4)):
        samples, counted = [], 0
        for _ in range(max(reps, 1)):
            path = f"/api/v1/audit/aggregate?group_by=day,kind&{q31}" + extra.format(r=rnd.randrange(100))
            groups, elapsed = api.json(path, fail)
            samples.append(elapsed)
            counted = sum(g["count"] for g in groups["groups"])
        out[name] = {**latency(samples), "events_counted": counted}
        log(f"  {name}: median {out[name]['median_ms']:.0f} ms ({counted:,} events counted)")

    # Changefeed pages at random positions.
    for name, prefix in (("changefeed_page", "/v2/_trust/changefeed"),
                         ("repo_changefeed_page", "/v2/bench/app{r}/_trust/changefeed")):
        samples, sizes = [], []
        for _ in range(n_pages):
            change_id = rnd.randrange(1, max(2, head - 2000))
            page, elapsed = api.json(prefix.format(r=rnd.randrange(100)) + f"?change_id={change_id}&records=100",
                                     fail)
            samples.append(elapsed)
            sizes.append(page["count"])
        if min(sizes) == 0:
            raise fail(f"{name}: an empty page in the middle of the feed")
        out[name] = {**latency(samples), "records_per_page": statistics.median(sizes)}
        log(f"  {name}: p99 {out[name]['p99_ms']:.2f} ms")

    # NDJSON exports, read to the end.
    slice_to = t0 + (t1 - t0) / 10 + 1
    for name, query in (("export_user", "user=user7"),
                        ("export_tenth", f"to={urllib.parse.quote(rfc3339(slice_to))}")):
        rates, lines = [], 0
        for _ in range(cfg["export_reps"]):
            lines, elapsed = api.count_lines(f"/api/v1/audit/events?{query}", "application/x-ndjson", fail)
            rates.append(lines / elapsed)
        out[name] = {"events": lines, "events_per_s": statistics.median(rates), "samples_per_s": rates,
                     "query": query}
        log(f"  {name}: {lines:,} events at {out[name]['events_per_s']:,.0f}/s")

    scale = 10_000_000 / max(head, 1)
    out["targets"] = [
        {"goal": "filtered page (repository + 1-day range) p99 < 50 ms", "value": out["filtered_page"]["p99_ms"],
         "met": out["filtered_page"]["p99_ms"] < 50},
        {"goal": "31-day aggregate < 300 ms (whole log, median)", "value": out["aggregate_31d_all"]["median_ms"],
         "met": out["aggregate_31d_all"]["median_ms"] < 300},
        {"goal": "31-day aggregate < 300 ms (one repository, median)",
         "value": out["aggregate_31d_repository"]["median_ms"], "met": out["aggregate_31d_repository"]["median_ms"] < 300},
        {"goal": "changefeed page of 100 < 5 ms (p99)", "value": out["changefeed_page"]["p99_ms"],
         "met": out["changefeed_page"]["p99_ms"] < 5},
        {"goal": "NDJSON export > 200k events/s", "value": out["export_tenth"]["events_per_s"],
         "met": out["export_tenth"]["events_per_s"] > 200_000},
    ]
    out["scale_note"] = None if scale <= 1 else f"measured at {head:,} events, not 10 million (smoke run)"
    return out


def ui_pages(ui: UiSession, out: dict, cfg: dict, log, fail) -> None:
    """The usage-logs page at the data set's scale: one repository and day, and 31 days of the whole log."""
    rnd = random.Random(11)
    t0 = parse_ts(out["first_ts"])
    day = t0 - t0 % DAY_S
    for name, reps, path in (
        ("ui_logs_filtered", cfg["query_pages"], lambda: "/ui/logs?repository=bench/app{r}&from={f}&to={t}".format(
            r=rnd.randrange(100), f=urllib.parse.quote(rfc3339(d := day + rnd.randrange(31) * DAY_S)),
            t=urllib.parse.quote(rfc3339(d + DAY_S)))),
        ("ui_logs_31d", max(cfg["aggregate_reps"] * 4, 10), lambda: "/ui/logs?from={f}&to={t}".format(
            f=urllib.parse.quote(rfc3339(day)), t=urllib.parse.quote(rfc3339(day + 31 * DAY_S)))),
    ):
        samples, rows = [], 0
        for _ in range(reps):
            body, elapsed = ui.page(path(), fail)
            if b'id="chart"' not in body:
                raise fail(f"{name}: the page has no chart")
            samples.append(elapsed)
            rows = body.count(b"<tr data-seq=")
        out[name] = {**latency(samples), "rows": rows}
        log(f"  {name}: p99 {out[name]['p99_ms']:.1f} ms ({rows} rows)")
    for key, goal in (("ui_logs_filtered", "UI logs page, one repository and day, with chart: p99 < 300 ms"),
                      ("ui_logs_31d", "UI logs page, 31 days of the whole log, with chart: p99 < 300 ms")):
        out["targets"].append({"goal": goal, "value": out[key]["p99_ms"], "met": out[key]["p99_ms"] < 300})


def markdown(aq: dict) -> list[str]:
    """The section of `docs/benchmarks.md`."""
    L = ["## Audit queries at scale", ""]
    L.append(f"vigil serving the verification data set: {aq['events']:,} events from {aq['first_ts']} to "
             f"{aq['last_ts']}, one in ten a tag change, with the query index built. One keep-alive client on "
             "127.0.0.1; client-side wall times." + (f" **{aq['scale_note']}.**" if aq.get("scale_note") else ""))
    L.append("")
    L.append("| Query | n | Median (ms) | p99 (ms) | Max (ms) | Notes |")
    L.append("|---|---:|---:|---:|---:|---|")
    rows = [
        ("filtered page", "filtered_page", f"{aq['filtered_page']['events_per_page']:.0f} events per page; "
                                          f"{aq['filtered_page']['query']}"),
        ("31-day aggregate, whole log", "aggregate_31d_all",
         f"{aq['aggregate_31d_all']['events_counted']:,} events counted, by day and kind"),
        ("31-day aggregate, one repository", "aggregate_31d_repository",
         f"{aq['aggregate_31d_repository']['events_counted']:,} events counted, by day and kind"),
        ("changefeed page of 100", "changefeed_page", "`/v2/_trust/changefeed` at random `change_id`s"),
        ("repository changefeed page of 100", "repo_changefeed_page", "`/v2/<name>/_trust/changefeed`"),
    ]
    if "ui_logs_filtered" in aq:
        rows += [
            ("UI logs page, one repository and day", "ui_logs_filtered",
             "`/ui/logs?repository=…&from=…&to=…` signed in: 50 rows and the chart, rendered HTML"),
            ("UI logs page, 31 days, whole log", "ui_logs_31d", "`/ui/logs?from=…&to=…`: the chart over 31 days"),
        ]
    for label, key, note in rows:
        f = aq[key]
        L.append(f"| {label} | {f['n']} | {f['median_ms']:.2f} | {f['p99_ms']:.2f} | {f['max_ms']:.2f} | {note} |")
    L.append("")
    L.append("| NDJSON export | Events | Events/s (median) |")
    L.append("|---|---:|---:|")
    for key in ("export_user", "export_tenth"):
        f = aq[key]
        L.append(f"| `{f['query']}` | {f['events']:,} | {f['events_per_s']:,.0f} |")
    L.append("")
    L.append("| Goal | This run | Met |")
    L.append("|---|---:|---|")
    for t in aq["targets"]:
        L.append(f"| {t['goal']} | {t['value']:,.1f} | {'yes' if t['met'] else '**no**'} |")
    L.append("")
    return L
