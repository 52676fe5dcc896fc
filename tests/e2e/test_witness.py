"""Witnessed checkpoints with two vigil servers that witness each other (C2SP tlog-witness): each log's
checkpoints get the other's cosignature, `vigil audit verify --witness-key` requires it, the witness answers the
protocol's errors, and a forked log (a data directory put back to an earlier copy, then written differently) is
refused by the witness and recorded as `witness_refused` by the log.
"""

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

from conftest import ADMIN_AUTH, HTTP, start_vigil, stop_vigil
from test_forwarding import free_port, get, requests, wait_for


def post(url: str, body: bytes) -> tuple[int, str, str]:
    req = urllib.request.Request(url, data=body, method="POST")
    try:
        with HTTP.open(req, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def text(url: str) -> str | None:
    try:
        with HTTP.open(url, timeout=5) as r:
            return r.read().decode()
    except urllib.error.HTTPError:
        return None


def cosigned_size(server) -> int:
    note = text(f"{server.url}/audit/checkpoint/cosigned")
    return int(note.splitlines()[1]) if note else 0


def events(server) -> list[dict]:
    path = Path(server.env["VIGIL_DATA_DIR"]) / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def verify(server, log_key: str, *witness_keys: str) -> subprocess.CompletedProcess:
    args = [str(server.binary), "audit", "verify", "--url", server.url, "--key", log_key]
    for k in witness_keys:
        args += ["--witness-key", k]
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env={"PATH": "/usr/bin:/bin"}, cwd="/")


def test_two_servers_witness_each_other_and_refuse_a_fork(tmp_path):
    a_base, b_base = tmp_path / "a", tmp_path / "b"
    a_port, b_port = free_port(), free_port()
    # First starts make the keys: each log's checkpoint key, each server's witness key.
    a, b = start_vigil(a_base, listen=f"127.0.0.1:{a_port}"), start_vigil(b_base, listen=f"127.0.0.1:{b_port}")
    keys = {}
    for name, server in (("a", a), ("b", b)):
        keys[name] = (server.cli("audit", "key").stdout.strip(), server.cli("witness", "key").stdout.strip())
        stop_vigil(server)

    def config(peer: str, peer_port: int) -> str:
        log_key, witness_key = keys[peer]
        return (f'[witness]\nenabled = true\n[[witness.log]]\nkey = "{log_key}"\n\n'
                f'[[audit.tlog.witness]]\nurl = "http://127.0.0.1:{peer_port}/witness"\nkey = "{witness_key}"\n')

    a_cfg, b_cfg = config("b", b_port), config("a", a_port)
    a = start_vigil(a_base, config=a_cfg, listen=f"127.0.0.1:{a_port}")
    b = start_vigil(b_base, config=b_cfg, listen=f"127.0.0.1:{b_port}")
    try:
        requests(a, 5)
        requests(b, 5)
        wait_for(lambda: cosigned_size(a) > 0 and cosigned_size(b) > 0, "both logs witnessed by the other")
        for log, witness in (("a", "b"), ("b", "a")):
            server = a if log == "a" else b
            result = verify(server, keys[log][0], keys[witness][1])
            assert result.returncode == 0, result.stdout + result.stderr
            assert "witnessed: checkpoint of size" in result.stdout + result.stderr
        # Requiring a witness that never cosigned fails the verification.
        other = a.cli("witness", "key").stdout.strip()  # A's own witness key did not cosign A's log
        result = verify(a, keys["a"][0], keys["b"][1], other)
        assert result.returncode != 0 and "valid cosignatures of the 2 required" in result.stdout + result.stderr

        # The witness protocol's answers, at B's witness.
        witness = f"{b.url}/witness/add-checkpoint"
        note = text(f"{a.url}/audit/checkpoint")
        status, media, body = post(witness, b"old 0\n\n" + note.encode())
        assert (status, media) == (409, "text/x.tlog.size") and int(body) > 0, (status, media, body)
        assert post(witness, b"old 0\n\nnobody.example/log\n1\n" + b"A" * 43 + b"=\n\n")[0] == 404
        forged = note.replace(note.splitlines()[1], str(int(note.splitlines()[1]) + 1), 1)
        assert post(witness, b"old 0\n\n" + forged.encode())[0] == 403, "a checkpoint the log did not sign"
        assert post(witness, b"old 99999999\n\n" + note.encode())[0] == 400, "an old size beyond the new one"
        assert post(witness, b"garbage")[0] == 400
        # Every submission is one event in the witness's own journal, through the one emission point.
        cosigns = [e for e in events(b) if e["operation"] == "WitnessCheckpoint" and e["kind"] == "witness_cosign"]
        statuses = {e["response"]["status"] for e in cosigns}
        assert {200, 409, 404, 403, 400} <= statuses, statuses

        # A fork: A's data directory goes back to an earlier copy and then records other events.
        stop_vigil(a)
        shutil.copytree(a_base / "data", tmp_path / "snapshot")
        a = start_vigil(a_base, config=a_cfg, listen=f"127.0.0.1:{a_port}")
        requests(a, 20)
        wait_for(lambda: cosigned_size(a) > 25, "B to cosign A's later checkpoints")
        cosigned = cosigned_size(a)
        stop_vigil(a)
        shutil.rmtree(a_base / "data")
        shutil.copytree(tmp_path / "snapshot", a_base / "data")
        a = start_vigil(a_base, config=a_cfg, listen=f"127.0.0.1:{a_port}")
        # Smaller than what B cosigned: A cannot even ask (no proof leads back); larger: B answers 422.
        refusals = lambda: [e["detail"] for e in events(a) if e["kind"] == "witness_refused"]
        requests(a, 3)
        wait_for(lambda: any("was not asked" in d for d in refusals()), "A to record that it is behind B's view")
        requests(a, cosigned + 10)
        wait_for(lambda: any("answered 422" in d for d in refusals()), "B to refuse A's forked checkpoint (422)")
        assert cosigned_size(a) == 0, "the forked log gets no cosignature"
    finally:
        stop_vigil(a)
        stop_vigil(b)
