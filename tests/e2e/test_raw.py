"""Raw files end to end with curl: upload, download with Range, overwrite refused and allowed, conditional requests,
delete, folder listings, denials and hostile paths, against the built binary, with each request's audit event read
back from `<VIGIL_DATA_DIR>/audit.jsonl` and checked field by field.

Repositories are made the way a user makes them: `vigil repo create NS/NAME --format raw [--allow-overwrite]
[--public]`, and once through the admin API.
"""

import hashlib
import json
import subprocess
import time

from conftest import ADMIN_PASSWORD, ADMIN_USER
from test_audit import AuditLog

BOB, BOB_PASSWORD = "rawbob", "raw-bob-password"
WRITER, WRITER_PASSWORD = "rawwriter", "raw-writer-password"
ADMIN = f"{ADMIN_USER}:{ADMIN_PASSWORD}"


def curl(url: str, *args: str, agent: str) -> tuple[int, dict, bytes]:
    """One curl request; returns the status, the (last) response's headers in lower case, and the body."""
    proc = subprocess.run(["curl", "-sS", "-D", "/dev/stderr", "-o", "-", "-A", agent, *args, url],
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    blocks = [b for b in proc.stderr.decode().replace("\r", "").split("\n\n") if b.startswith("HTTP/")]
    status_line, *lines = blocks[-1].splitlines()
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines if ":" in line)}
    return int(status_line.split()[1]), headers, proc.stdout


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def one_event(log: AuditLog, mark: int, agent: str) -> dict:
    events = log.since(mark, agent)
    assert len(events) == 1, json.dumps(events, indent=1)
    return events[0]


def check_file_event(ev: dict, *, operation: str, action: str, kind: str, outcome: str, status: int, user: str,
                     method: str, path: str, repo: str, file: str | None, digest: str | None = None,
                     size: int | None = None, detail: str | None = None, agent: str):
    assert ev["schema"] == 3 and ev["stage"] == "complete" and ev["actor"] == "api", ev
    assert (ev["operation"], ev["action"], ev["kind"], ev["registry"]) == (operation, action, kind, "raw"), ev
    assert (ev["outcome"], ev["response"]["status"]) == (outcome, status), ev
    assert ev["user"]["name"] == user, ev
    # NORA's detail: the content's digest, or what an overwrite replaced.
    assert ev["detail"] == (detail if detail is not None else digest or ""), ev
    req = ev["request"]
    assert (req["method"], req["path"], req["remote_addr"], req["user_agent"]) == (method, path, "127.0.0.1", agent)
    t = ev["target"]
    assert (t["format"], t["namespace"], t["repository"], t["path"]) == ("raw", repo.split("/")[0], repo, file), t
    assert (t["digest"], t["size"]) == (digest, size), t
    assert ev["artifact"] == (f"{repo}/{file}" if file else repo), ev
    if outcome != "success":
        assert ev["reason"], ev


def test_raw_files_with_curl(vigil, tmp_path):
    log = AuditLog(vigil)
    vigil.cli("repo", "create", "e2e/files", "--format", "raw")
    vigil.cli("repo", "create", "e2e/scratch", "--format", "raw", "--allow-overwrite")
    vigil.cli("repo", "create", "e2e/public", "--format", "raw", "--public")
    for name, password in ((BOB, BOB_PASSWORD), (WRITER, WRITER_PASSWORD)):
        vigil.cli("user", "add", name, "--password-stdin", input=password + "\n")
    vigil.cli("grant", "e2e/files", WRITER, "--role", "write")
    listed = vigil.cli("repo", "list", "--format", "raw").stdout
    assert "e2e/files\traw\tallow_overwrite=false" in listed and "e2e/scratch\traw\tallow_overwrite=true" in listed

    base = f"{vigil.url}/raw/e2e/files"
    payload = tmp_path / "report.txt"
    payload.write_bytes(b"quarterly numbers\n" * 1000)
    data = payload.read_bytes()
    digest = sha256(data)

    # Upload, with the digest claimed and checked.
    mark = log.mark()
    status, headers, body = curl(f"{base}/reports/2026/q4.txt", "-u", f"{WRITER}:{WRITER_PASSWORD}",
                                 "-T", str(payload), "-H", "Content-Type: text/plain",
                                 "-H", f"X-Checksum-Sha256: {digest[7:]}", agent="raw-put")
    assert status == 201, body
    assert headers["etag"] == f'"{digest}"' and json.loads(body)["size"] == len(data)
    check_file_event(one_event(log, mark, "raw-put"), operation="PutRawFile", action="push", kind="push_repo",
                     outcome="success", status=201, user=WRITER, method="PUT", path="/raw/e2e/files/reports/2026/q4.txt",
                     repo="e2e/files", file="reports/2026/q4.txt", digest=digest, size=len(data), agent="raw-put")

    # Download, whole and in a range.
    mark = log.mark()
    status, headers, body = curl(f"{base}/reports/2026/q4.txt", "-u", ADMIN, agent="raw-get")
    assert (status, body, headers["content-type"], headers["etag"]) == (200, data, "text/plain", f'"{digest}"')
    check_file_event(one_event(log, mark, "raw-get"), operation="GetRawFile", action="pull", kind="pull_repo",
                     outcome="success", status=200, user=ADMIN_USER, method="GET",
                     path="/raw/e2e/files/reports/2026/q4.txt", repo="e2e/files", file="reports/2026/q4.txt",
                     digest=digest, size=len(data), agent="raw-get")
    status, headers, body = curl(f"{base}/reports/2026/q4.txt", "-u", ADMIN, "-r", "18-35", agent="raw-range")
    assert (status, body, headers["content-range"]) == (206, data[18:36], f"bytes 18-35/{len(data)}")
    status, headers, _ = curl(f"{base}/reports/2026/q4.txt", "-u", ADMIN, "-I", agent="raw-head")
    assert (status, headers["content-length"]) == (200, str(len(data)))

    # Conditional requests.
    status, _, body = curl(f"{base}/reports/2026/q4.txt", "-u", ADMIN, "-H", f'If-None-Match: "{digest}"',
                           agent="raw-304")
    assert (status, body) == (304, b"")
    mark = log.mark()
    status, _, body = curl(f"{base}/reports/2026/q4.txt", "-u", ADMIN, "-T", str(payload), "-H", "If-None-Match: *",
                           agent="raw-412")
    assert status == 412 and json.loads(body)["error"] == "PRECONDITION_FAILED"
    check_file_event(one_event(log, mark, "raw-412"), operation="PutRawFile", action="push", kind="push_repo",
                     outcome="failed", status=412, user=ADMIN_USER, method="PUT",
                     path="/raw/e2e/files/reports/2026/q4.txt", repo="e2e/files", file="reports/2026/q4.txt",
                     agent="raw-412")

    # Overwrite refused here (409, content unchanged), allowed in the scratch repository (NORA's `overwrite`).
    other = tmp_path / "other.txt"
    other.write_bytes(b"revised\n")
    status, _, body = curl(f"{base}/reports/2026/q4.txt", "-u", ADMIN, "-T", str(other), agent="raw-409")
    assert status == 409 and json.loads(body)["error"] == "OVERWRITE_REFUSED", body
    assert curl(f"{base}/reports/2026/q4.txt", "-u", ADMIN, agent="raw-get")[2] == data
    scratch = f"{vigil.url}/raw/e2e/scratch/notes.txt"
    assert curl(scratch, "-u", ADMIN, "-T", str(payload), agent="raw-put")[0] == 201
    mark = log.mark()
    status, _, _ = curl(scratch, "-u", ADMIN, "-T", str(other), "-H", f'If-Match: "{digest}"', agent="raw-overwrite")
    assert status == 200
    check_file_event(one_event(log, mark, "raw-overwrite"), operation="PutRawFile", action="overwrite",
                     kind="push_repo", outcome="success", status=200, user=ADMIN_USER, method="PUT",
                     path="/raw/e2e/scratch/notes.txt", repo="e2e/scratch", file="notes.txt",
                     digest=sha256(b"revised\n"), size=8, detail=digest, agent="raw-overwrite")

    # Listing a folder.
    curl(f"{base}/reports/2026/q3.txt", "-u", ADMIN, "-T", str(other), agent="raw-put")
    mark = log.mark()
    status, _, body = curl(f"{base}/reports/", "-u", ADMIN, agent="raw-list")
    assert status == 200 and json.loads(body)["entries"] == [{"name": "2026/", "type": "folder"}]
    listing = json.loads(curl(f"{base}/reports/2026/", "-u", ADMIN, agent="raw-list2")[2])
    assert [(e["name"], e["type"], e.get("size")) for e in listing["entries"]] == [
        ("q3.txt", "file", 8), ("q4.txt", "file", len(data))]
    check_file_event(one_event(log, mark, "raw-list"), operation="ListRawFolder", action="list", kind="list_files",
                     outcome="success", status=200, user=ADMIN_USER, method="GET", path="/raw/e2e/files/reports/",
                     repo="e2e/files", file="reports/", agent="raw-list")

    # Denials: anonymous (a Basic challenge), a user without rights (403), whatever exists or not.
    mark = log.mark()
    status, headers, _ = curl(f"{base}/reports/2026/q4.txt", agent="raw-anon")
    assert status == 401 and headers["www-authenticate"].startswith("Basic ")
    check_file_event(one_event(log, mark, "raw-anon"), operation="GetRawFile", action="pull", kind="pull_repo",
                     outcome="denied", status=401, user="", method="GET", path="/raw/e2e/files/reports/2026/q4.txt",
                     repo="e2e/files", file="reports/2026/q4.txt", agent="raw-anon")
    for path in ("reports/2026/q4.txt", "no/such/file"):
        mark = log.mark()
        status, _, body = curl(f"{base}/{path}", "-u", f"{BOB}:{BOB_PASSWORD}", "-T", str(other), agent="raw-bob")
        assert status == 403 and json.loads(body)["error"] == "DENIED", body
        check_file_event(one_event(log, mark, "raw-bob"), operation="PutRawFile", action="push", kind="push_repo",
                         outcome="denied", status=403, user=BOB, method="PUT", path=f"/raw/e2e/files/{path}",
                         repo="e2e/files", file=path, agent="raw-bob")
    assert curl(f"{base}/reports/2026/q4.txt", "-u", f"{BOB}:{BOB_PASSWORD}", agent="raw-bob-get")[0] == 403
    # A public repository serves anonymous pulls (the CLI's change reaches the server's access cache within its
    # two-second bound), and still refuses anonymous writes.
    curl(f"{vigil.url}/raw/e2e/public/readme", "-u", ADMIN, "-T", str(other), agent="raw-put")
    deadline = time.monotonic() + 10
    while (got := curl(f"{vigil.url}/raw/e2e/public/readme", agent="raw-anon"))[0] == 401 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert got[2] == b"revised\n", got
    assert curl(f"{vigil.url}/raw/e2e/public/readme", "-T", str(other), agent="raw-anon")[0] == 401

    # Hostile paths: dot segments, an encoded slash, NUL, a backslash.
    for path in ("a/../../etc/passwd", "a/%2e%2e/b", "a%2Fb", "a%00b", "a%5Cb"):
        mark = log.mark()
        status, _, body = curl(f"{base}/{path}", "--path-as-is", "-u", ADMIN, "-T", str(other), agent="raw-bad")
        assert status == 400 and json.loads(body)["error"] == "PATH_INVALID", (path, body)
        ev = one_event(log, mark, "raw-bad")
        assert (ev["operation"], ev["outcome"], ev["response"]["status"]) == ("PutRawFile", "failed", 400), ev
        assert ev["request"]["path"] == f"/raw/e2e/files/{path}" and ev["reason"], ev

    # Delete, conditional on the content, then the file is gone.
    status, _, _ = curl(f"{base}/reports/2026/q3.txt", "-u", ADMIN, "-X", "DELETE", "-H", f'If-Match: "{digest}"',
                        agent="raw-del412")
    assert status == 412
    mark = log.mark()
    status, _, _ = curl(f"{base}/reports/2026/q3.txt", "-u", ADMIN, "-X", "DELETE", agent="raw-del")
    assert status == 204
    check_file_event(one_event(log, mark, "raw-del"), operation="DeleteRawFile", action="delete", kind="delete_file",
                     outcome="success", status=204, user=ADMIN_USER, method="DELETE",
                     path="/raw/e2e/files/reports/2026/q3.txt", repo="e2e/files", file="reports/2026/q3.txt",
                     digest=sha256(b"revised\n"), size=8, detail=sha256(b"revised\n"), agent="raw-del")
    assert curl(f"{base}/reports/2026/q3.txt", "-u", ADMIN, agent="raw-gone")[0] == 404

    # The admin API creates, lists and deletes repositories too (Quay's shapes).
    api = f"{vigil.url}/api/v1/repository"
    status, _, body = curl(api, "-u", ADMIN, "-H", "Content-Type: application/json", "-d",
                           '{"namespace":"e2e","repository":"viaapi","format":"raw","visibility":"private"}',
                           agent="raw-api")
    assert status == 201 and json.loads(body) == {"namespace": "e2e", "name": "viaapi", "kind": "raw"}, body
    names = [r["name"] for r in json.loads(curl(f"{api}?namespace=e2e&format=raw", "-u", ADMIN, agent="raw-api")[2])
             ["repositories"]]
    assert names == ["files", "public", "scratch", "viaapi"], names
    bobs = json.loads(curl(f"{api}?format=raw", "-u", f"{BOB}:{BOB_PASSWORD}", agent="raw-api")[2])["repositories"]
    assert [(r["namespace"], r["name"], r["kind"]) for r in bobs] == [("e2e", "public", "raw")], "only what bob may pull"
    mark = log.mark()
    assert curl(f"{api}/e2e/viaapi", "-u", ADMIN, "-X", "DELETE", agent="raw-api-del")[0] == 204
    ev = one_event(log, mark, "raw-api-del")
    assert (ev["kind"], ev["operation"], ev["artifact"], ev["outcome"]) == ("delete_repo", "AdminChange", "e2e/viaapi",
                                                                           "success"), ev
    assert curl(f"{vigil.url}/raw/e2e/viaapi/x", "-u", ADMIN, agent="raw-gone")[0] == 404
