"""Forwarding the audit trail to real receivers: a CloudEvents webhook receiver these tests run, Debian's rsyslog
(TCP and TLS, started by the tests on a loopback port), and the NATS JetStream server on 127.0.0.1:4222. Each
test runs its own vigil with an enforced file sink beside the network sink: the file is the complete record every
receiver is checked against (nothing missing, in seq order; duplicates only after a crash, as documented).

Also here: the shapes (OCSF validated with the OCSF models from PyPI, ECS, ACR, CloudEvents) written by file sinks.
"""

import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import ADMIN_AUTH, HTTP, start_vigil, stop_vigil

SECRET = "forwarding-test-secret-0123"
WAIT = 40.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, what: str, timeout: float = WAIT):
    """Polls `cond` until it is truthy (no fixed sleeps: the condition is what we wait for)."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def get(url: str, auth: str | None = ADMIN_AUTH) -> int:
    req = urllib.request.Request(url, headers={"Authorization": auth} if auth else {})
    try:
        with HTTP.open(req, timeout=10) as r:
            r.read()
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def requests(server, n: int) -> None:
    for _ in range(n):
        assert get(f"{server.url}/v2/") == 200


def file_seqs(server) -> list[int]:
    path = Path(server.env["VIGIL_DATA_DIR"]) / "audit.jsonl"
    return [json.loads(line)["seq"] for line in path.read_text().splitlines() if line.strip()]


def first_occurrences(seqs: list[int]) -> list[int]:
    seen, out = set(), []
    for s in seqs:
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def ready(server) -> str:
    try:
        with HTTP.open(f"{server.url}/ready", timeout=5) as r:
            return r.read().decode()
    except urllib.error.HTTPError as e:
        return e.read().decode()


def config(sink: str, allow: str = "") -> str:
    export = f'[audit.export]\ncallback_allowlist = ["{allow}"]\n\n' if allow else ""
    return (f'{export}[[audit.sink]]\nname = "file"\ntype = "file"\npath = "audit.jsonl"\n'
            f'delivery_guarantee = "enforced"\n\n{sink}')


# --- a CloudEvents receiver ---------------------------------------------------------------------------------


class Receiver:
    """An HTTP receiver on a loopback port: keeps what it acknowledged, can answer 500, can be down."""

    def __init__(self):
        self.port = free_port()
        self.accepted: list[dict] = []  # {"headers", "body"} of requests answered 2xx
        self.fail = 0  # answer this many requests with 500
        self.delay = 0.0
        self.lock = threading.Lock()
        self.server = None

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                with receiver.lock:
                    failing = receiver.fail > 0
                    receiver.fail -= 1 if failing else 0
                    if not failing:
                        receiver.accepted.append({"headers": dict(self.headers), "body": body})
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def events(self) -> list[dict]:
        with self.lock:
            out = []
            for r in self.accepted:
                data = json.loads(r["body"])
                out.extend(data if isinstance(data, list) else [data])
            return out

    def seqs(self) -> list[int]:
        return [int(e["sequence"]) for e in self.events()]


def webhook_sink(receiver, extra: str = "") -> str:
    return (f'[[audit.sink]]\nname = "hook"\ntype = "webhook"\nurl = "http://127.0.0.1:{receiver.port}/events"\n'
            f'delivery_guarantee = "best-effort"\nbatch_size = 20\nhmac_secret = "{SECRET}"\n{extra}')


def test_webhook_delivers_everything_in_order_through_500s_outages_and_kill_9(tmp_path):
    receiver = Receiver()
    receiver.fail = 3  # the first deliveries are answered 500 and retried
    receiver.start()
    base = tmp_path / "v"
    cfg = config(webhook_sink(receiver), allow=f"http://127.0.0.1:{receiver.port}")
    server = start_vigil(base, config=cfg)
    try:
        requests(server, 30)
        wait_for(lambda: set(file_seqs(server)) <= set(receiver.seqs()), "the webhook to hold every event")
        # Every request: signed, a CloudEvents batch, each event with its id, type and seq.
        for r in receiver.accepted:
            h = {k.lower(): v for k, v in r["headers"].items()}
            assert h["content-type"] == "application/cloudevents-batch+json"
            t, v1 = re.fullmatch(r"t=(\d+),v1=([0-9a-f]{64})", h["x-vigil-signature"]).groups()
            expect = hmac.new(SECRET.encode(), f"{t}.".encode() + r["body"], hashlib.sha256).hexdigest()
            assert hmac.compare_digest(v1, expect), "the HMAC signature verifies"
        for e in receiver.events():
            assert e["specversion"] == "1.0" and e["type"].startswith("dev.vigil.audit.")
            assert e["id"] == e["data"]["id"] and int(e["sequence"]) == e["data"]["seq"]
        assert receiver.seqs() == sorted(receiver.seqs()), "in seq order, no duplicates without a crash"

        # The receiver goes away: requests are not slowed or failed (best-effort), /ready says the sink is failing.
        receiver.stop()
        requests(server, 20)
        wait_for(lambda: "sink hook:" in ready(server) and "failing" in ready(server), "/ready to report the failure")
        receiver.start()
        wait_for(lambda: set(file_seqs(server)) <= set(receiver.seqs()), "the backlog after the outage")
        assert receiver.seqs() == sorted(receiver.seqs())
        assert "failing" not in ready(server)

        # kill -9 in the middle of a delivery: after the restart nothing is missing and first deliveries stay ordered.
        receiver.delay = 0.05
        before = len(receiver.seqs())
        requests(server, 60)
        wait_for(lambda: len(receiver.seqs()) > before, "a delivery under way")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        receiver.delay = 0.0
        server = start_vigil(base, config=cfg)
        requests(server, 2)
        wait_for(lambda: set(file_seqs(server)) <= set(receiver.seqs()), "everything after kill -9")
        firsts = first_occurrences(receiver.seqs())
        assert firsts == sorted(firsts), "re-sent events come again in order; nothing is skipped"
        # A lagging event was not needed here; the metrics name the sink.
        with HTTP.open(f"{server.url}/metrics", timeout=5) as r:
            metrics = r.read().decode()
        assert 'vigil_audit_sink_delivered_seq{sink="hook"}' in metrics
    finally:
        stop_vigil(server)
        receiver.stop()


def test_an_enforced_webhook_refuses_requests_beyond_max_lag_and_records_its_lag(tmp_path):
    receiver = Receiver()  # not started: the receiver is down from the beginning
    sink = webhook_sink(receiver).replace('delivery_guarantee = "best-effort"', 'delivery_guarantee = "enforced"')
    server = start_vigil(tmp_path / "v", config=config(sink + "max_lag = 8\n", allow=f"http://127.0.0.1:{receiver.port}"))
    try:
        statuses = [get(f"{server.url}/v2/") for _ in range(20)]
        assert 503 in statuses, statuses
        # The server's own start-up events count too, so fewer than max_lag requests get through before the bound.
        assert statuses.index(503) <= 8 and set(statuses[:statuses.index(503)]) <= {200}, statuses
        assert "not ready" in ready(server) and "sink hook: delivered through" in ready(server), ready(server)
        receiver.start()
        wait_for(lambda: get(f"{server.url}/v2/") == 200 and "not ready" not in ready(server), "recovery")
        wait_for(lambda: set(file_seqs(server)) <= set(receiver.seqs()), "the backlog")
        kinds = lambda: [e["data"]["kind"] for e in receiver.events()]
        assert "audit_sink_lagging" in kinds(), "the sink recorded that it fell behind (at half its max_lag)"
        wait_for(lambda: "audit_sink_recovered" in kinds(), "the recovery event")
    finally:
        stop_vigil(server)
        receiver.stop()


def test_a_webhook_outside_the_allowlist_is_a_start_error(tmp_path):
    receiver = Receiver()
    base = tmp_path / "v"
    (base / "cwd").mkdir(parents=True)
    (base / "cwd" / "vigil.toml").write_text(config(webhook_sink(receiver)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env["VIGIL_DATA_DIR"] = str(base / "data")
    from conftest import _vigil_bin
    proc = subprocess.run([str(_vigil_bin()), "serve", "--listen", "127.0.0.1:0"], cwd=base / "cwd", env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "callback_allowlist" in proc.stderr, proc.stderr


# --- rsyslog ------------------------------------------------------------------------------------------------


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d: Path, name: str):
    """A CA and a server certificate for 127.0.0.1 signed by it."""
    d.mkdir()
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", f"/CN={name} CA", cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return d


class Rsyslog:
    """Debian's rsyslogd on a loopback TCP port (TLS with gtls when given certificates), writing each message's
    structured data and MSG to a file."""

    def __init__(self, d: Path, tls: Path | None = None):
        self.dir, self.port, self.out = d, free_port(), d / "out.log"
        d.mkdir(exist_ok=True)
        (d / "work").mkdir(exist_ok=True)
        tls_global = (f'global(DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{tls}/ca.pem" '
                      f'DefaultNetstreamDriverCertFile="{tls}/server.pem" '
                      f'DefaultNetstreamDriverKeyFile="{tls}/server.key")\n') if tls else ""
        driver = ' StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon"' if tls else ""
        (d / "rsyslog.conf").write_text(
            f'global(workDirectory="{d}/work")\n{tls_global}'
            f'module(load="imtcp"{driver})\n'
            f'input(type="imtcp" address="127.0.0.1" port="{self.port}")\n'
            'template(name="sdmsg" type="string" string="%structured-data% %msg%\\n")\n'
            f'*.* action(type="omfile" file="{self.out}" template="sdmsg")\n')
        self.proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(d / "rsyslog.conf"), "-i", str(d / "pid")],
                                     stdout=subprocess.DEVNULL, stderr=open(d / "rsyslogd.err", "wb"))
        wait_for(self.listening, "rsyslogd to listen")

    def listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    def seqs(self) -> list[int]:
        if not self.out.exists():
            return []
        return [int(m) for m in re.findall(r'\[vigil@32473 seq="(\d+)"', self.out.read_text())]

    def messages(self) -> list[dict]:
        return [json.loads(line.split("] ", 1)[1]) for line in self.out.read_text().splitlines() if "] " in line]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)


def syslog_sink(url: str, extra: str = "") -> str:
    return (f'[[audit.sink]]\nname = "siem"\ntype = "syslog"\nurl = "{url}"\nformat = "ecs"\n'
            f'delivery_guarantee = "best-effort"\n{extra}')


def need(tool: str):
    # scripts/test installs these; a missing one fails here rather than skipping unseen.
    assert shutil.which(tool), f"{tool} is not installed (scripts/test installs it)"


def test_syslog_over_tcp_to_rsyslog_survives_its_restart(tmp_path):
    need("rsyslogd")
    rs = Rsyslog(tmp_path / "rsyslog")
    server = start_vigil(tmp_path / "v", config=config(syslog_sink(f"tcp://127.0.0.1:{rs.port}")))
    try:
        requests(server, 20)
        wait_for(lambda: set(file_seqs(server)) <= set(rs.seqs()), "rsyslog to hold every event")
        assert rs.seqs() == sorted(rs.seqs())
        ecs = rs.messages()[-1]
        assert ecs["event"]["kind"] == "event" and ecs["source"]["ip"] == "127.0.0.1", ecs
        # rsyslog restarts: the sink reconnects and sends what it could not.
        rs.stop()
        requests(server, 10)
        rs.proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(rs.dir / "rsyslog.conf"), "-i", str(rs.dir / "pid")],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(rs.listening, "rsyslogd to listen again")
        requests(server, 2)
        wait_for(lambda: set(file_seqs(server)) <= set(rs.seqs()), "the events of the outage")
    finally:
        stop_vigil(server)
        rs.stop()


def test_syslog_over_tls_verifies_the_server_certificate(tmp_path):
    need("rsyslogd")
    need("openssl")
    good, wrong = make_ca(tmp_path / "ca", "vigil test"), make_ca(tmp_path / "other", "someone else")
    rs = Rsyslog(tmp_path / "rsyslog", tls=good)
    url = f"tls://127.0.0.1:{rs.port}"
    refused = start_vigil(tmp_path / "w", config=config(syslog_sink(url, f'ca_file = "{wrong}/ca.pem"\n')))
    try:
        requests(refused, 5)
        wait_for(lambda: "failing" in ready(refused), "the TLS failure in /ready")
        assert "TLS" in ready(refused) or "certificate" in ready(refused), ready(refused)
        assert rs.seqs() == [], "nothing is sent to a server whose certificate does not verify"
    finally:
        stop_vigil(refused)
    server = start_vigil(tmp_path / "v", config=config(syslog_sink(url, f'ca_file = "{good}/ca.pem"\n')))
    try:
        requests(server, 10)
        wait_for(lambda: set(file_seqs(server)) <= set(rs.seqs()), "rsyslog over TLS to hold every event")
        assert rs.seqs() == sorted(rs.seqs())
    finally:
        stop_vigil(server)
        rs.stop()


# --- NATS JetStream -----------------------------------------------------------------------------------------


def stream_messages(stream: str, subject: str) -> list:
    import nats

    async def read():
        nc = await nats.connect("nats://127.0.0.1:4222")
        try:
            js = nc.jetstream()
            info = await js.stream_info(stream)
            out = []
            for seq in range(info.state.first_seq, info.state.last_seq + 1):
                msg = await js.get_msg(stream, seq)
                out.append(msg)
            return out
        finally:
            await nc.close()

    return asyncio.run(read())


def delete_stream(stream: str):
    import nats

    async def delete():
        nc = await nats.connect("nats://127.0.0.1:4222")
        try:
            await nc.jetstream().delete_stream(stream)
        except Exception:
            pass
        finally:
            await nc.close()

    asyncio.run(delete())


def test_nats_jetstream_acknowledged_and_deduplicated_by_event_id(tmp_path):
    tag = os.urandom(4).hex()
    stream, subject = f"VIGIL_TEST_{tag}", f"vigil.test.{tag}"
    sink = (f'[[audit.sink]]\nname = "bus"\ntype = "nats"\nurl = "nats://127.0.0.1:4222"\nsubject = "{subject}"\n'
            f'stream = "{stream}"\nformat = "ocsf"\ndelivery_guarantee = "best-effort"\n')
    base = tmp_path / "v"
    server = start_vigil(base, config=config(sink))
    try:
        requests(server, 25)
        def delivered():
            try:
                return {int(m.headers["Vigil-Seq"]) for m in stream_messages(stream, subject)} >= set(file_seqs(server))
            except Exception:
                return False
        wait_for(delivered, "JetStream to hold every event")
        msgs = stream_messages(stream, subject)
        seqs = [int(m.headers["Vigil-Seq"]) for m in msgs]
        assert seqs == sorted(seqs) and len(seqs) == len(set(seqs)), "ordered, and each event stored once"
        for m in msgs:
            event = json.loads(m.data)
            assert m.headers["Nats-Msg-Id"] == event["metadata"]["uid"]
            assert event["metadata"]["sequence"] == int(m.headers["Vigil-Seq"])
        # A crash and a restart re-send up to a second of events; JetStream stores each id once.
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        server = start_vigil(base, config=config(sink))
        requests(server, 3)
        wait_for(delivered, "the events after the restart")
        seqs = [int(m.headers["Vigil-Seq"]) for m in stream_messages(stream, subject)]
        assert len(seqs) == len(set(seqs)), "duplicates were dropped by Nats-Msg-Id"
    finally:
        stop_vigil(server)
        delete_stream(stream)


# --- shapes in files ----------------------------------------------------------------------------------------


def test_file_sinks_in_ocsf_ecs_acr_and_cloudevents(tmp_path):
    import jsonschema
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema

    # The OCSF 1.4.0 schema as the OCSF project exports it, turned into JSON Schema per class.
    ocsf = OcsfJsonSchemaEmbedded(get_ocsf_schema(version="1.4.0"))
    validators = {uid: jsonschema.Draft202012Validator(ocsf.get_class_schema(ocsf.lookup_class_name_from_uid(uid)))
                  for uid in (3002, 6003)}

    sinks = "".join(
        f'[[audit.sink]]\nname = "{f}"\ntype = "file"\npath = "audit-{f}.jsonl"\nformat = "{f}"\n'
        'delivery_guarantee = "enforced"\n\n' for f in ("ocsf", "ecs", "acr", "cloudevents"))
    server = start_vigil(tmp_path / "v", config=config(sinks))
    try:
        requests(server, 3)
        get(f"{server.url}/v2/", auth="Basic bm9ib2R5Ondyb25n")  # a failed login: nobody:wrong
        get(f"{server.url}/v2/acme/app/manifests/v1")  # a pull of nothing: 404
        data = Path(server.env["VIGIL_DATA_DIR"])
        lines = lambda f: [json.loads(l) for l in (data / f"audit-{f}.jsonl").read_text().splitlines()]
        wait_for(lambda: len(lines("ocsf")) == len(file_seqs(server)), "every shape written")
        classes = set()
        for e in lines("ocsf"):
            classes.add(e["class_uid"])
            errors = [f"{list(err.path)}: {err.message}" for err in validators[e["class_uid"]].iter_errors(e)]
            assert not errors, f"{e['class_uid']}: {errors[:5]}"
            assert e["metadata"]["product"]["vendor_name"] == "vigil" and e["metadata"]["sequence"] > 0
        assert classes == {3002, 6003}, classes
        failed = [e for e in lines("ocsf") if e["class_uid"] == 3002 and e["status_id"] == 2]
        assert failed and failed[0]["user"]["name"] == "nobody" and failed[0]["src_endpoint"]["ip"] == "127.0.0.1"
        missing = [e for e in lines("ocsf") if e.get("api", {}).get("operation") == "GetManifest"]
        assert missing and missing[0]["status_id"] == 2 and missing[0]["http_response"]["code"] == 404, missing
        ecs = lines("ecs")
        assert all(e["event"]["kind"] == "event" and "@timestamp" in e for e in ecs)
        assert any(e["event"]["category"] == ["authentication"] and e["event"]["outcome"] == "failure" for e in ecs)
        acr = lines("acr")
        pull = [a for a in acr if a["action"] == "GetImageManifest"]
        assert pull and pull[0]["namespace_repo"] == "acme/app" and pull[0]["http_response_status"] == 404
        assert pull[0]["network_type"] == "VPC" and pull[0]["http_request_remoteaddr"] == "127.0.0.1"
        ce = lines("cloudevents")
        assert [int(c["sequence"]) for c in ce] == file_seqs(server)
        assert all(c["data"]["seq"] == int(c["sequence"]) for c in ce)
    finally:
        stop_vigil(server)


# --- OTLP ---------------------------------------------------------------------------------------------------


class OtlpReceiver(Receiver):
    """An OTLP/HTTP logs receiver that decodes each request with the upstream protobuf definitions
    (opentelemetry-proto from PyPI) and answers an ExportLogsServiceResponse."""

    def records(self) -> list:
        from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

        out = []
        with self.lock:
            for r in self.accepted:
                req = logs_service_pb2.ExportLogsServiceRequest.FromString(r["body"])
                for rl in req.resource_logs:
                    resource = {a.key: a.value.string_value for a in rl.resource.attributes}
                    for sl in rl.scope_logs:
                        for rec in sl.log_records:
                            out.append((resource, sl.scope.name, rec))
        return out

    def seqs(self) -> list[int]:
        return [next(a.value.int_value for a in rec.attributes if a.key == "vigil.seq") for _, _, rec in self.records()]


def test_otlp_logs_decoded_with_the_upstream_protobuf_definitions(tmp_path):
    receiver = OtlpReceiver()
    receiver.fail = 2
    receiver.start()
    sink = (f'[[audit.sink]]\nname = "otel"\ntype = "otlp"\nurl = "http://127.0.0.1:{receiver.port}/v1/logs"\n'
            'delivery_guarantee = "best-effort"\nbatch_size = 10\n')
    server = start_vigil(tmp_path / "v", config=config(sink))
    try:
        requests(server, 12)
        get(f"{server.url}/v2/", auth="Basic bm9ib2R5Ondyb25n")  # a failed login
        wait_for(lambda: set(file_seqs(server)) <= set(receiver.seqs()), "the OTLP receiver to hold every event")
        assert receiver.seqs() == sorted(receiver.seqs())
        assert all({k.lower(): v for k, v in r["headers"].items()}["content-type"] == "application/x-protobuf"
                   for r in receiver.accepted)
        by_kind = {}
        for resource, scope, rec in receiver.records():
            attrs = {a.key: (a.value.int_value if a.value.HasField("int_value") else a.value.string_value)
                     for a in rec.attributes}
            assert resource["service.name"] == "vigil" and scope == "vigil.audit"
            assert rec.time_unix_nano > 1_700_000_000 * 10**9
            body = json.loads(rec.body.string_value)
            assert body["seq"] == attrs["vigil.seq"] and body["id"] == attrs["vigil.event_id"]
            by_kind.setdefault(attrs["vigil.kind"], (rec, attrs))
        rec, attrs = by_kind["login_failure"]
        assert (rec.severity_text, rec.severity_number) == ("WARN", 13)
        assert attrs["client.address"] == "127.0.0.1" and attrs["http.response.status_code"] == 401
        assert attrs["user.name"] == "nobody" and attrs["url.path"] == "/v2/"
        assert by_kind["login_success"][0].severity_text == "INFO"
    finally:
        stop_vigil(server)
        receiver.stop()
