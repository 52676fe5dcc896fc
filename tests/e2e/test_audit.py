"""End-to-end tests of the audit trail: real clients run against vigil, then the events they produced are read back
from `<VIGIL_DATA_DIR>/audit.jsonl` and checked field by field.

With the default configuration (`[audit] mode = "file"`, `delivery_guarantee = "enforced"`) that file holds one
native event (schema 2, docs/audit-event.md) per line, written and fsynced before the response goes out, so every
event of a client command is in the file as soon as the command has exited: the tests read it once, without
polling.

The session's server is shared with the other test files. Each test notes the last `seq` in the file before its
client runs and looks only at the events after it, made by that client (its exact User-Agent) and about this
module's own repositories and users (names with a per-session suffix); no absolute `seq` is assumed. Events of
`vigil` CLI commands (user add, grant) can land in that window too: the server writes them to the file at its next
commit, with the `seq` the CLI got earlier. They have `actor` "cli" and no request, so they are left out.
"""

import base64
import hashlib
import json
import re
import secrets
import stat
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from conftest import ADMIN_AUTH, ADMIN_PASSWORD, HTTP, basic_auth, require_tool

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CMD_TIMEOUT = 60

SUFFIX = secrets.token_hex(4)  # this session's repositories and users are unique to this module
WRITER = f"audit-writer-{SUFFIX}"
WRITER_PASSWORD = f"writer-pass-{secrets.token_hex(8)}"
READER = f"audit-reader-{SUFFIX}"
READER_PASSWORD = f"reader-pass-{secrets.token_hex(8)}"
LOGIN_USER = f"audit-login-{SUFFIX}"
LOGIN_PASSWORD = f"login-pass-{secrets.token_hex(8)}"

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
REQUEST_ID = re.compile(r"[0-9a-f]{32}")  # generated (uuid, simple form): these clients send no X-Request-Id
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
# Shapes of secrets that must never be recorded: API tokens (vgt_<id>_<secret>) and registry tokens (JWTs).
API_TOKEN = re.compile(rb"vgt_[0-9a-f]{16}_[0-9a-f]{48}")
JWT = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")


# ---------------------------------------------------------------------------------------------------------------
# helpers


def run(cmd, env=None, input=None) -> subprocess.CompletedProcess:
    """Runs a command to completion (stdin from `input`, else /dev/null) and returns it, whatever its status."""
    kwargs = {"input": input} if input is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run([str(c) for c in cmd], env=env, capture_output=True, text=True, timeout=CMD_TIMEOUT,
                          **kwargs)


def describe(proc) -> str:
    return (f"{' '.join(map(str, proc.args))} exited with {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")


def ok(cmd, env=None, input=None) -> str:
    proc = run(cmd, env=env, input=input)
    assert proc.returncode == 0, "command failed: " + describe(proc)
    return proc.stdout


def fails(cmd, env=None, input=None) -> str:
    proc = run(cmd, env=env, input=input)
    assert proc.returncode != 0, "command unexpectedly succeeded: " + describe(proc)
    return (proc.stderr + proc.stdout).lower()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def http(method: str, url: str, headers=None, auth=ADMIN_AUTH):
    headers = dict(headers or {})
    if auth is not None:
        headers["Authorization"] = auth
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with HTTP.open(req, timeout=30) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class AuditLog:
    """`<VIGIL_DATA_DIR>/audit.jsonl`, read as it is on disk."""

    def __init__(self, vigil):
        self.path = Path(vigil.env["VIGIL_DATA_DIR"]) / "audit.jsonl"

    def raw(self) -> bytes:
        return self.path.read_bytes()

    def events(self) -> list:
        return [json.loads(line) for line in self.raw().splitlines()]

    def mark(self) -> int:
        """The last `seq` in the file now: the next events a client causes come after it."""
        events = self.events()
        return events[-1]["seq"] if events else 0

    def since(self, mark: int, user_agent: str) -> list:
        """The events of HTTP requests sent with `user_agent` after `mark`, in `seq` order (CLI events left out)."""
        events = [e for e in self.events() if e["seq"] > mark]
        assert [e["seq"] for e in events] == sorted(e["seq"] for e in events), "events out of seq order"
        return [e for e in events if e["actor"] == "api" and (e["request"] or {}).get("user_agent") == user_agent]


def repo_events(events: list, repo: str) -> list:
    return [e for e in events if (e["target"] or {}).get("repository") == repo]


def of_kind(events: list, kind: str) -> list:
    return [e for e in events if e["kind"] == kind]


def token_scopes(event) -> list:
    """The `scope` parameters of an /auth/token request, as recorded in request.path."""
    query = urllib.parse.urlsplit(event["request"]["path"]).query
    return urllib.parse.parse_qs(query).get("scope", [])


def summary(events: list) -> str:
    """One line per event, for assertion messages."""
    return "\n".join(
        f"{e['seq']} {e['kind']} {e['operation']} {e['outcome']} {e['response'] and e['response']['status']} "
        f"{e['request'] and e['request']['method']} {e['request'] and e['request']['path']} "
        f"user={e['user']['name']!r}/{e['user']['kind']}/{e['user']['credential']}" for e in events)


def check_common(vigil, events: list, user_agent: str) -> None:
    """What every request event carries, whatever the operation."""
    assert events, "no events recorded"
    for e in events:
        assert e["schema"] == 3 and e["stage"] == "complete" and e["actor"] == "api", e
        assert UUID.fullmatch(e["id"]), e
        assert TS.fullmatch(e["ts"]), e
        assert e["node"], e
        req = e["request"]
        assert REQUEST_ID.fullmatch(req["id"]), e
        assert req["host"] == vigil.host and req["remote_addr"] == "127.0.0.1", e
        assert req["user_agent"] == user_agent, e
        status = e["response"]["status"]
        expected = "success" if status < 400 else "denied" if status in (401, 403) else "failed"
        assert e["outcome"] == expected, e
        assert (e["reason"] is None) == (status < 400), e
        if req["method"] == "HEAD":
            assert e["response"]["bytes"] == 0, e
        registry = "vigil" if req["path"].startswith("/api/") else "docker"
        assert e["registry"] == registry, e
    assert len({e["id"] for e in events}) == len(events)
    assert len({e["request"]["id"] for e in events}) == len(events)


def skopeo_user_agent() -> str:
    """skopeo's User-Agent, `skopeo/<version>`, from `skopeo --version` ("skopeo version 1.9.3")."""
    out = ok(["skopeo", "--version"]).strip()
    match = re.fullmatch(r"skopeo version (\S+)(?: .*)?", out)
    assert match, out
    return f"skopeo/{match.group(1)}"


def wait_for_access(vigil, path: str, auth, within: float = 3.0) -> None:
    """Polls GET /v2/<path> until it is allowed: vigil caches a caller's roles for up to 2 s, and a CLI grant made
    while the server runs does not clear that cache."""
    start = time.monotonic()
    while True:
        status, _, body = http("GET", f"{vigil.url}/v2/{path}", auth=auth)
        if status not in (401, 403):
            return
        assert time.monotonic() - start < within, f"GET /v2/{path}: still {status} {body!r}"
        time.sleep(0.05)


def add_user(vigil, name: str, password: str) -> str:
    """`vigil user add`; returns the new account's id (from `created user NAME (id ID)`)."""
    proc = vigil.cli("user", "add", name, "--password-stdin", input=password + "\n")
    match = re.search(r"created user \S+ \(id ([0-9a-f-]+)\)", proc.stdout + proc.stderr)
    assert match, proc.stdout + proc.stderr
    return match.group(1)


# ---------------------------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def audit(vigil) -> AuditLog:
    log = AuditLog(vigil)
    assert log.path.is_file(), f"{log.path} does not exist (default [audit] mode is \"file\")"
    return log


@pytest.fixture(scope="module")
def users(vigil) -> dict:
    """A writer (owns the namespace WRITER/), a reader with only the read role on one of the writer's repositories,
    and a user for the login checks: name -> account id."""
    return {name: add_user(vigil, name, password) for name, password in
            ((WRITER, WRITER_PASSWORD), (READER, READER_PASSWORD), (LOGIN_USER, LOGIN_PASSWORD))}


@pytest.fixture(scope="module")
def skopeo_ua() -> str:
    require_tool("skopeo")
    return skopeo_user_agent()


@pytest.fixture(scope="module")
def layout(containers_env, tmp_path_factory) -> dict:
    """An OCI layout built with umoci: `v1` with one layer, `v2` with that layer and a second one on top. Both
    layers hold random bytes, so their blobs are new to the registry."""
    require_tool("umoci")
    require_tool("skopeo")
    base = tmp_path_factory.mktemp("audit-umoci")
    path, env = base / "layout", containers_env
    ok(["umoci", "init", "--layout", path], env=env)
    ok(["umoci", "new", "--image", f"{path}:v1"], env=env)
    for tag, parent, name in (("v1", "v1", "first"), ("v2", "v1", "second")):
        bundle = base / f"bundle-{tag}"
        ok(["umoci", "unpack", "--rootless", "--image", f"{path}:{parent}", bundle], env=env)
        (bundle / "rootfs" / name).write_text(secrets.token_hex(32) + "\n")
        ok(["umoci", "repack", "--image", f"{path}:{tag}", bundle], env=env)

    images = {}
    index = json.loads((path / "index.json").read_text())
    for desc in index["manifests"]:
        tag = desc["annotations"]["org.opencontainers.image.ref.name"]
        raw = blob(path, desc["digest"])
        manifest = json.loads(raw)
        images[tag] = {"digest": desc["digest"], "raw": raw, "manifest": manifest,
                       "blobs": {d["digest"]: d["size"] for d in [manifest["config"], *manifest["layers"]]}}
    assert len(images["v1"]["manifest"]["layers"]) == 1 and len(images["v2"]["manifest"]["layers"]) == 2
    return {"path": path, **images}


def blob(layout_path: Path, digest: str) -> bytes:
    algo, hexd = digest.split(":", 1)
    data = (layout_path / "blobs" / algo / hexd).read_bytes()
    assert sha256(data) == digest
    return data


@pytest.fixture(scope="module")
def pushed(vigil, containers_env, layout, users, audit, skopeo_ua) -> dict:
    """The writer's skopeo push of `v2` into WRITER/pushed-SUFFIX, and the events it caused."""
    repo = f"{WRITER}/pushed-{SUFFIX}"
    digestfile = layout["path"].parent / "pushed.digest"
    mark = audit.mark()
    ok(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", f"{WRITER}:{WRITER_PASSWORD}",
        "--digestfile", digestfile, f"oci:{layout['path']}:v2", f"docker://{vigil.host}/{repo}:v2"],
       env=containers_env)
    return {"repo": repo, "digest": digestfile.read_text().strip(), "events": audit.since(mark, skopeo_ua)}


# ---------------------------------------------------------------------------------------------------------------
# 1. skopeo push


def test_skopeo_push_events(vigil, layout, users, pushed, skopeo_ua):
    repo, events = pushed["repo"], pushed["events"]
    image = layout["v2"]
    blobs = image["blobs"]  # config and both layers
    assert pushed["digest"] == image["digest"], "skopeo pushed the layout's manifest unchanged"
    check_common(vigil, events, skopeo_ua)

    # Every event is this push's: the anonymous probe, the token request for this repository, or about the repo.
    ping, token, *rest = events
    assert rest == repo_events(events, repo), summary(events)
    assert (ping["kind"], ping["operation"], ping["action"], ping["outcome"]) == \
        ("ping", "CheckApiVersion", "ping", "denied"), ping
    assert ping["user"] == {"id": None, "name": "", "kind": "anonymous", "credential": "none", "token_id": None}
    assert ping["request"]["path"] == "/v2/" and ping["response"]["status"] == 401
    assert ping["response"]["error"] == "UNAUTHORIZED" and ping["target"] is None

    # The token service: a password login, granted pull and push on the repository.
    assert (token["kind"], token["operation"], token["action"], token["outcome"]) == \
        ("login_success", "IssueToken", "token_issue", "success"), token
    assert token["user"] == {"id": users[WRITER], "name": WRITER, "kind": "user", "credential": "password",
                             "token_id": None}
    assert token["request"]["method"] == "GET" and token["request"]["path"].startswith("/auth/token?")
    assert token_scopes(token) == [f"repository:{repo}:pull,push"], token
    assert token["detail"] == f"repository:{repo}:pull,push", token
    assert token["response"]["status"] == 200 and token["target"] is None and token["artifact"] == ""

    # Everything on /v2/<repo> was done with the registry token the writer got.
    for e in rest:
        assert e["user"] == {"id": users[WRITER], "name": WRITER, "kind": "user",
                             "credential": "temporary_token", "token_id": None}, e
        assert e["target"]["namespace"] == WRITER, e
    kinds = Counter(e["kind"] for e in rest)
    assert set(kinds) == {"head_blob", "start_upload", "upload_chunk", "push_blob", "push_repo"}, summary(events)

    # skopeo asks whether each blob is there (new content: 404), then uploads it: POST, PATCH, PUT ?digest=.
    for e in of_kind(rest, "head_blob"):
        assert e["target"]["digest"] in blobs, e
        assert (e["outcome"], e["response"]["status"], e["response"]["error"]) == ("failed", 404, "BLOB_UNKNOWN"), e
    assert {e["target"]["digest"] for e in of_kind(rest, "head_blob")} == set(blobs)
    assert kinds["start_upload"] == kinds["upload_chunk"] == kinds["push_blob"] == len(blobs), summary(events)
    for e in of_kind(rest, "start_upload"):
        assert (e["operation"], e["action"], e["request"]["method"]) == ("StartUpload", "upload", "POST"), e
        assert e["request"]["path"] == f"/v2/{repo}/blobs/uploads/" and e["response"]["status"] == 202, e
        assert e["target"]["digest"] is None and e["artifact"] == repo, e
    for e in of_kind(rest, "upload_chunk"):
        assert (e["operation"], e["request"]["method"], e["response"]["status"]) == ("PatchUpload", "PATCH", 202), e
    pushed_blobs = {}
    for e in of_kind(rest, "push_blob"):
        assert (e["operation"], e["action"], e["outcome"]) == ("CompleteUpload", "push", "success"), e
        digest = e["target"]["digest"]
        assert e["request"]["method"] == "PUT", e
        path = urllib.parse.urlsplit(e["request"]["path"])
        assert urllib.parse.parse_qs(path.query)["digest"] == [digest], e
        # The PUT completes the session the PATCH before it filled.
        assert any(c["request"]["path"] == path.path and c["seq"] < e["seq"] for c in of_kind(rest, "upload_chunk"))
        assert e["response"]["status"] == 201 and e["detail"] == digest, e
        assert e["artifact"] == f"{repo}@{digest}" and e["target"]["tag"] is None, e
        pushed_blobs[digest] = e["target"]["size"]
    assert pushed_blobs == blobs, "one push_blob per blob, with its size"

    # Exactly one manifest PUT, for the tag, after every blob.
    (put,) = of_kind(rest, "push_repo")
    assert (put["operation"], put["action"], put["outcome"]) == ("PutManifest", "push", "success"), put
    assert put["request"]["method"] == "PUT" and put["request"]["path"] == f"/v2/{repo}/manifests/v2", put
    assert put["response"]["status"] == 201 and put["response"]["error"] is None, put
    assert put["target"] == {"format": "oci", "namespace": WRITER, "repository": repo, "package": None,
                             "version": None, "path": None, "tag": "v2", "digest": pushed["digest"],
                             "media_type": OCI_MANIFEST, "size": len(image["raw"])}, put
    assert put["artifact"] == f"{repo}:v2" and put["detail"] == pushed["digest"], put
    assert put is rest[-1], summary(events)


# ---------------------------------------------------------------------------------------------------------------
# 2. skopeo pull


def test_skopeo_pull_events(vigil, containers_env, layout, users, pushed, audit, skopeo_ua, tmp_path):
    repo, image = pushed["repo"], layout["v2"]
    creds = f"{WRITER}:{WRITER_PASSWORD}"
    mark = audit.mark()
    ok(["skopeo", "copy", "--src-tls-verify=false", "--src-creds", creds, f"docker://{vigil.host}/{repo}:v2",
        f"oci:{tmp_path / 'back'}:v2"], env=containers_env)
    events = audit.since(mark, skopeo_ua)
    check_common(vigil, events, skopeo_ua)

    ping, token, *rest = events
    assert (ping["kind"], ping["outcome"], ping["response"]["status"]) == ("ping", "denied", 401), ping
    assert (token["kind"], token["outcome"], token["user"]["name"], token["user"]["credential"]) == \
        ("login_success", "success", WRITER, "password"), token
    assert token_scopes(token) == [f"repository:{repo}:pull"] and token["detail"] == f"repository:{repo}:pull"
    assert rest == repo_events(events, repo), summary(events)
    assert Counter(e["kind"] for e in rest) == {"pull_repo": 1, "pull_blob": len(image["blobs"])}, summary(events)
    for e in rest:
        assert e["outcome"] == "success" and e["action"] == "pull" and e["response"]["error"] is None, e
        assert e["user"] == {"id": users[WRITER], "name": WRITER, "kind": "user",
                             "credential": "temporary_token", "token_id": None}, e

    # One manifest GET, by tag: the digest and size it resolved to, and the bytes sent.
    (get,) = of_kind(rest, "pull_repo")
    assert get is rest[0], summary(events)
    assert (get["operation"], get["request"]["method"], get["request"]["path"]) == \
        ("GetManifest", "GET", f"/v2/{repo}/manifests/v2"), get
    assert get["target"] == {"format": "oci", "namespace": WRITER, "repository": repo, "package": None,
                             "version": None, "path": None, "tag": "v2", "digest": image["digest"],
                             "media_type": OCI_MANIFEST, "size": len(image["raw"])}, get
    assert get["response"] == {"status": 200, "bytes": len(image["raw"]), "error": None}, get
    assert get["artifact"] == f"{repo}:v2" and get["detail"] == image["digest"], get

    # One blob GET per layer and for the config, each with the whole blob sent.
    fetched = {}
    for e in of_kind(rest, "pull_blob"):
        digest = e["target"]["digest"]
        assert (e["operation"], e["request"]["method"], e["request"]["path"]) == \
            ("GetBlob", "GET", f"/v2/{repo}/blobs/{digest}"), e
        assert e["response"]["status"] == 200 and e["response"]["bytes"] == image["blobs"][digest], e
        assert e["target"]["size"] == image["blobs"][digest] and e["target"]["tag"] is None, e
        assert e["artifact"] == f"{repo}@{digest}" and e["detail"] == digest, e
        fetched[digest] = e["response"]["bytes"]
    assert fetched == image["blobs"]
    for layer in image["manifest"]["layers"]:
        assert fetched[layer["digest"]] == layer["size"] == len(blob(tmp_path / "back", layer["digest"]))

    # A tag listing is one list_tags event with the body's length.
    mark = audit.mark()
    out = ok(["skopeo", "list-tags", "--tls-verify=false", "--creds", creds, f"docker://{vigil.host}/{repo}"],
             env=containers_env)
    assert json.loads(out)["Tags"] == ["v2"]
    events = audit.since(mark, skopeo_ua)
    check_common(vigil, events, skopeo_ua)
    (listing,) = repo_events(events, repo)
    assert [e["kind"] for e in events if e is not listing] == ["ping", "login_success"], summary(events)
    assert (listing["kind"], listing["operation"], listing["action"], listing["outcome"]) == \
        ("list_tags", "ListTags", "list", "success"), listing
    assert listing["request"]["path"].split("?")[0] == f"/v2/{repo}/tags/list", listing
    status, _, body = http("GET", f"{vigil.url}/v2/{repo}/tags/list", auth=basic_auth(WRITER, WRITER_PASSWORD))
    assert status == 200 and listing["response"]["bytes"] == len(body), (listing, body)
    assert listing["artifact"] == repo and listing["user"]["name"] == WRITER, listing


# ---------------------------------------------------------------------------------------------------------------
# 3. logins


def create_token(vigil, user: str, name: str) -> tuple[str, str]:
    """`vigil token create`: (token id, token); the token alone on stdout, `token id ID for USER` on stderr."""
    proc = vigil.cli("token", "create", "--user", user, "--name", name)
    token = proc.stdout.strip()
    assert API_TOKEN.fullmatch(token.encode()), proc.stdout
    return re.search(r"token id (\S+)", proc.stderr).group(1), token


def skopeo_login_events(vigil, env, audit, user_agent, user, secret, succeed: bool) -> list:
    login = ["skopeo", "login", "--tls-verify=false", "-u", user, "--password-stdin", vigil.host]
    mark = audit.mark()
    (ok if succeed else fails)(login, env=env, input=secret + "\n")
    events = audit.since(mark, user_agent)
    check_common(vigil, events, user_agent)
    return events


@pytest.fixture
def login_env(containers_env, tmp_path) -> dict:
    authfile = tmp_path / "auth.json"
    authfile.write_text('{"auths": {}}\n')
    return {**containers_env, "REGISTRY_AUTH_FILE": str(authfile)}


def test_skopeo_login_success_and_failure(vigil, login_env, users, audit, skopeo_ua):
    env = login_env  # an auth file of this test's own for skopeo login to write to
    login = ["skopeo", "login", "--tls-verify=false", "-u", LOGIN_USER, "--password-stdin", vigil.host]
    wrong = f"wrong-{secrets.token_hex(12)}"

    # A wrong password: refused, one login_failure naming the claimed user and no secret.
    mark = audit.mark()
    err = fails(login, env=env, input=wrong + "\n")
    assert "invalid username/password" in err or "unauthorized" in err, err
    events = audit.since(mark, skopeo_ua)
    check_common(vigil, events, skopeo_ua)
    assert [(e["kind"], e["outcome"], e["response"]["status"]) for e in events] == \
        [("ping", "denied", 401), ("login_failure", "denied", 401)], summary(events)
    failure = events[1]
    assert (failure["operation"], failure["action"]) == ("IssueToken", "token_issue"), failure
    assert failure["user"] == {"id": None, "name": LOGIN_USER, "kind": "anonymous", "credential": "password",
                               "token_id": None}, failure
    assert failure["request"]["path"] == f"/auth/token?account={LOGIN_USER}&service=vigil", failure
    assert failure["response"]["error"] == "UNAUTHORIZED", failure
    assert failure["reason"] == "invalid username or password", failure
    assert failure["target"] is None and failure["detail"] == "" and failure["artifact"] == "", failure

    # The right password: the login succeeds with the account's id, then skopeo checks /v2/ with the token.
    mark = audit.mark()
    out = ok(login, env=env, input=LOGIN_PASSWORD + "\n")
    assert "Login Succeeded" in out, out
    events = audit.since(mark, skopeo_ua)
    check_common(vigil, events, skopeo_ua)
    assert [(e["kind"], e["outcome"], e["response"]["status"]) for e in events] == \
        [("ping", "denied", 401), ("login_success", "success", 200), ("ping", "success", 200)], summary(events)
    _, success, ping = events
    assert (success["operation"], success["action"]) == ("IssueToken", "token_issue"), success
    assert success["user"] == {"id": users[LOGIN_USER], "name": LOGIN_USER, "kind": "user",
                               "credential": "password", "token_id": None}, success
    assert success["request"]["path"] == f"/auth/token?account={LOGIN_USER}&service=vigil", success
    assert success["reason"] is None and success["detail"] == "", success  # no scope asked, none granted
    assert ping["request"]["path"] == "/v2/" and ping["operation"] == "CheckApiVersion", ping
    assert ping["user"] == {"id": users[LOGIN_USER], "name": LOGIN_USER, "kind": "user",
                            "credential": "temporary_token", "token_id": None}, ping

    # Neither password, in clear or in a Basic header, is anywhere in the file.
    raw = audit.raw()
    for secret in (wrong, LOGIN_PASSWORD):
        for form in (secret, base64.b64encode(f"{LOGIN_USER}:{secret}".encode()).decode()):
            assert form.encode() not in raw, f"{form!r} is in {audit.path}"


def test_skopeo_login_with_api_token_records_its_id(vigil, login_env, users, audit, skopeo_ua):
    """An API token given as the password (as `skopeo login` and `docker login` send it): the login and the
    registry token it leads to name the API token by its id, never by its secret."""
    token_id, token = create_token(vigil, LOGIN_USER, f"audit-{SUFFIX}")
    events = skopeo_login_events(vigil, login_env, audit, skopeo_ua, LOGIN_USER, token, succeed=True)
    assert [(e["kind"], e["outcome"]) for e in events] == \
        [("ping", "denied"), ("login_success", "success"), ("ping", "success")], summary(events)
    _, success, ping = events
    assert success["user"] == {"id": users[LOGIN_USER], "name": LOGIN_USER, "kind": "user", "credential": "token",
                               "token_id": token_id}, success
    assert ping["user"] == {"id": users[LOGIN_USER], "name": LOGIN_USER, "kind": "user",
                            "credential": "temporary_token", "token_id": token_id}, ping
    assert token.encode() not in audit.raw() and token.split("_")[2].encode() not in audit.raw()


def test_skopeo_login_with_revoked_api_token_names_the_token(vigil, login_env, users, audit, skopeo_ua):
    token_id, token = create_token(vigil, LOGIN_USER, f"audit-revoked-{SUFFIX}")
    vigil.cli("token", "revoke", token_id)
    events = skopeo_login_events(vigil, login_env, audit, skopeo_ua, LOGIN_USER, token, succeed=False)
    assert [(e["kind"], e["outcome"]) for e in events] == [("ping", "denied"), ("login_failure", "denied")], \
        summary(events)
    failure = events[1]
    assert failure["reason"] == "invalid token: unknown, expired or revoked API token", failure
    assert (failure["user"]["id"], failure["user"]["name"], failure["user"]["kind"]) == \
        (None, LOGIN_USER, "anonymous"), failure
    assert token.encode() not in audit.raw() and token.split("_")[2].encode() not in audit.raw()
    # The token that was tried, by its id (as for a successful login with it, and as for `Bearer vgt_...`).
    assert (failure["user"]["credential"], failure["user"]["token_id"]) == ("token", token_id), failure


def test_oras_wrong_password_is_a_failed_login(vigil, users, audit, tmp_path, monkeypatch):
    """Basic credentials that do not authenticate, sent on /v2 itself (oras-py's basic backend): whatever the
    request was for, its event is a login_failure naming the claimed user, and the password is not recorded."""
    oras_client = pytest.importorskip("oras.client")
    import requests

    monkeypatch.chdir(tmp_path)
    user_agent = f"python-requests/{requests.__version__}"
    wrong = f"wrong-{secrets.token_hex(12)}"
    client = oras_client.OrasClient(hostname=vigil.host, insecure=True, auth_backend="basic")
    client.login(username=LOGIN_USER, password=wrong, hostname=vigil.host,
                 config_path=str(tmp_path / "oras-docker-config.json"))
    repo = f"{LOGIN_USER}/oras-{SUFFIX}"
    Path("note.txt").write_bytes(secrets.token_bytes(32))
    mark = audit.mark()
    with pytest.raises(ValueError, match="UNAUTHORIZED"):
        client.push(target=f"{vigil.host}/{repo}:v1", files=["note.txt:text/plain"], quiet=True)
    events = audit.since(mark, user_agent)
    check_common(vigil, events, user_agent)
    assert events == repo_events(events, repo), summary(events)

    failures = of_kind(events, "login_failure")
    assert failures, summary(events)
    for e in events:
        assert (e["outcome"], e["response"]["status"], e["response"]["error"]) == ("denied", 401, "UNAUTHORIZED"), e
        if e in failures:
            assert e["user"] == {"id": None, "name": LOGIN_USER, "kind": "anonymous", "credential": "password",
                                 "token_id": None}, e
            assert e["reason"] == "invalid username or password", e
            # The operation and NORA's action stay those of the request (HEAD blob: pull; POST upload: upload).
            assert e["action"] == {"HeadBlob": "pull", "StartUpload": "upload"}[e["operation"]], e
        else:  # oras-py's first, anonymous try of each request
            assert e["user"]["kind"] == "anonymous" and e["user"]["credential"] == "none", e
            assert e["kind"] == {"HeadBlob": "head_blob", "StartUpload": "start_upload"}[e["operation"]], e
            assert e["reason"] == "authentication required", e
    assert [e["operation"] for e in failures] == ["HeadBlob", "StartUpload"], summary(events)

    raw = audit.raw()
    for form in (wrong, base64.b64encode(f"{LOGIN_USER}:{wrong}".encode()).decode()):
        assert form.encode() not in raw, f"{form!r} is in {audit.path}"
    status, _, _ = http("GET", f"{vigil.url}/v2/{repo}/tags/list")
    assert status == 404


# ---------------------------------------------------------------------------------------------------------------
# 4. oras-py: artifacts, a referrer, the referrers API


def test_oras_artifact_referrer_events(vigil, users, audit, tmp_path, monkeypatch):
    oras_client = pytest.importorskip("oras.client")
    import oras.oci
    import requests

    monkeypatch.chdir(tmp_path)  # oras-py only pushes files below the working directory
    user_agent = f"python-requests/{requests.__version__}"
    # oras-py's basic backend (see test_real_clients.oras_login): Basic credentials after each 401.
    client = oras_client.OrasClient(hostname=vigil.host, insecure=True, auth_backend="basic")
    client.login(username=WRITER, password=WRITER_PASSWORD, hostname=vigil.host,
                 config_path=str(tmp_path / "oras-docker-config.json"))
    repo = f"{WRITER}/oras-{SUFFIX}"
    sbom_type = "application/vnd.example.sbom.v1+json"

    mark = audit.mark()
    Path("artifact.txt").write_bytes(secrets.token_bytes(64))
    resp = client.push(target=f"{vigil.host}/{repo}:v1", files=["artifact.txt:text/plain"], quiet=True)
    assert resp.status_code == 201, resp.text
    subject_digest = resp.headers["Docker-Content-Digest"]
    status, _, subject_raw = http("GET", f"{vigil.url}/v2/{repo}/manifests/v1", {"Accept": OCI_MANIFEST})
    assert status == 200 and sha256(subject_raw) == subject_digest
    subject = oras.oci.Subject(mediaType=OCI_MANIFEST, digest=subject_digest, size=len(subject_raw))

    Path("sbom.json").write_text(json.dumps({"spdxVersion": "SPDX-2.3", "name": SUFFIX}))
    resp = client.push(target=f"{vigil.host}/{repo}:sbom", files=["sbom.json:application/spdx+json"],
                       manifest_config=f"sbom.json:{sbom_type}", subject=subject, quiet=True)
    assert resp.status_code == 201 and resp.headers.get("OCI-Subject") == subject_digest, resp.text
    sbom_digest = resp.headers["Docker-Content-Digest"]
    status, _, sbom_raw = http("GET", f"{vigil.url}/v2/{repo}/manifests/{sbom_digest}", {"Accept": OCI_MANIFEST})
    assert status == 200
    sbom = json.loads(sbom_raw)
    assert sbom["mediaType"] == OCI_MANIFEST and sbom["config"]["mediaType"] == sbom_type
    assert sbom["subject"]["digest"] == subject_digest

    # The referrers API through oras-py's own session (with its auth), filtered by artifactType.
    referrers_path = f"/v2/{repo}/referrers/{subject_digest}?artifactType={urllib.parse.quote(sbom_type, safe='')}"
    listing = client.do_request(f"{vigil.url}{referrers_path}")
    assert listing.status_code == 200, listing.text
    assert [d["digest"] for d in listing.json()["manifests"]] == [sbom_digest]

    events = audit.since(mark, user_agent)
    check_common(vigil, events, user_agent)
    assert events == repo_events(events, repo), summary(events)
    # oras-py sends each request without credentials first, then again with Basic ones after the 401.
    for e in events:
        if e["user"]["kind"] == "anonymous":
            assert e["user"] == {"id": None, "name": "", "kind": "anonymous", "credential": "none",
                                 "token_id": None}, e
            assert (e["outcome"], e["response"]["status"], e["response"]["error"]) == \
                ("denied", 401, "UNAUTHORIZED"), e
            assert e["kind"] != "login_failure", e  # no credentials presented: no failed login
        else:
            assert e["user"] == {"id": users[WRITER], "name": WRITER, "kind": "user", "credential": "password",
                                 "token_id": None}, e
            assert e["outcome"] == "success" or e["kind"] == "head_blob", e

    # Two manifests pushed, each once: the subject and the SBOM that refers to it, with their media type.
    puts = [e for e in of_kind(events, "push_repo") if e["outcome"] == "success"]
    assert [(e["target"]["tag"], e["target"]["digest"]) for e in puts] == \
        [("v1", subject_digest), ("sbom", sbom_digest)], summary(events)
    for put, raw in zip(puts, (subject_raw, sbom_raw)):
        assert put["target"]["media_type"] == json.loads(raw)["mediaType"] == OCI_MANIFEST, put
        assert put["target"]["size"] == len(raw) and put["response"]["status"] == 201, put
        assert put["artifact"] == f"{repo}:{put['target']['tag']}" and put["action"] == "push", put
    # The SBOM's config blob (whose media type is the artifact type) and its layer went up as blobs.
    blob_digests = {e["target"]["digest"] for e in of_kind(events, "push_blob") if e["outcome"] == "success"}
    assert {sbom["config"]["digest"], *(layer["digest"] for layer in sbom["layers"])} <= blob_digests

    # The referrers listing: one successful list_referrers for the subject, with the query and the body length.
    (refs,) = [e for e in of_kind(events, "list_referrers") if e["outcome"] == "success"]
    assert (refs["operation"], refs["action"], refs["request"]["method"]) == \
        ("ListReferrers", "list", "GET"), refs
    assert refs["request"]["path"] == referrers_path, refs
    assert refs["target"]["digest"] == subject_digest and refs["target"]["tag"] is None, refs
    assert refs["artifact"] == f"{repo}@{subject_digest}", refs
    assert refs["response"] == {"status": 200, "bytes": len(listing.content), "error": None}, refs
    assert refs is events[-1], summary(events)


# ---------------------------------------------------------------------------------------------------------------
# 5. denied pushes by a user who may only read


@pytest.fixture(scope="module")
def read_only_repo(vigil, containers_env, layout, users) -> str:
    """WRITER/shared-SUFFIX holds `v1` (pushed by its owner); READER has the read role on it."""
    repo = f"{WRITER}/shared-{SUFFIX}"
    ok(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", f"{WRITER}:{WRITER_PASSWORD}",
        f"oci:{layout['path']}:v1", f"docker://{vigil.host}/{repo}:v1"], env=containers_env)
    vigil.cli("grant", repo, READER, "--role", "read")
    wait_for_access(vigil, f"{repo}/tags/list", basic_auth(READER, READER_PASSWORD))
    return repo


def test_skopeo_push_without_push_right_is_denied(vigil, containers_env, layout, users, read_only_repo, audit,
                                                  skopeo_ua):
    """The token flow: the reader asks for pull,push, gets a pull-only token, and every write is refused with
    401 insufficient_scope. v2's first layer is already there (v1's), its second layer and config are not.

    skopeo's blob-info cache remembers that the second layer is in WRITER/pushed-SUFFIX (test 1 pushed it there),
    so skopeo also asks for pull on that repository to try a cross-repository mount: the reader has no right
    there, and those probes are recorded as denied too."""
    repo = read_only_repo
    present = layout["v1"]["manifest"]["layers"][0]["digest"]
    mark = audit.mark()
    err = fails(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", f"{READER}:{READER_PASSWORD}",
                 f"oci:{layout['path']}:v2", f"docker://{vigil.host}/{repo}:v2"], env=containers_env)
    assert "denied" in err or "unauthorized" in err, err
    events = audit.since(mark, skopeo_ua)
    check_common(vigil, events, skopeo_ua)
    reader = {"id": users[READER], "name": READER, "kind": "user"}

    assert events[0]["kind"] == "ping" and events[0]["outcome"] == "denied", summary(events)
    tokens = [e for e in events if e["operation"] == "IssueToken"]
    assert tokens and all(e["kind"] == "login_success" for e in tokens), summary(events)
    for t in tokens:
        assert {k: t["user"][k] for k in reader} == reader and t["user"]["credential"] == "password", t
        scopes = token_scopes(t)
        assert f"repository:{repo}:pull,push" in scopes, t
        # What was granted, scope by scope: pull only here; nothing on the writer's other repositories.
        expected = []
        for scope in scopes:
            _, name, _ = scope.split(":")
            assert scope in (f"repository:{repo}:pull,push", f"repository:{name}:pull"), t
            assert name.startswith(f"{WRITER}/"), t
            expected.append(f"repository:{name}:pull" if name == repo else f"repository:{name}:")
        assert t["detail"].split(" ") == expected, t
    rest = [e for e in events if e["operation"] not in ("IssueToken", "CheckApiVersion")]
    for e in rest:
        assert {k: e["user"][k] for k in reader} == reader and e["user"]["credential"] == "temporary_token", e
    here = repo_events(events, repo)
    elsewhere = [e for e in rest if e not in here]

    # Reads here are allowed (the present layer is found, the others are not there)...
    for e in of_kind(here, "head_blob"):
        expected = ("success", 200) if e["target"]["digest"] == present else ("failed", 404)
        assert (e["outcome"], e["response"]["status"]) == expected, e
    # ...reads of the writer's other repositories are refused...
    for e in elsewhere:
        assert e["target"]["repository"].startswith(f"{WRITER}/"), e
        assert (e["kind"], e["outcome"], e["response"]["status"]) == ("head_blob", "denied", 401), e
        assert e["reason"] == "the token's scope does not cover this request", e
    # ...every write is refused and recorded as denied, with the reader and the reason...
    writes = [e for e in rest if e["action"] in ("push", "upload")]
    assert writes and writes == [e for e in here if e["kind"] != "head_blob"], summary(events)
    for e in writes:
        assert e["kind"] in ("start_upload", "mount_blob") and e["request"]["method"] == "POST", e
        assert (e["outcome"], e["response"]["status"], e["response"]["error"]) == \
            ("denied", 401, "UNAUTHORIZED"), e
        assert e["reason"] == "the token's scope does not cover this request", e
        assert e["target"]["repository"] == repo, e
    assert of_kind(writes, "start_upload"), summary(events)
    # ...and nothing was written.
    status, _, body = http("GET", f"{vigil.url}/v2/{repo}/tags/list")
    assert status == 200 and json.loads(body)["tags"] == ["v1"], body
    for digest in layout["v2"]["blobs"]:
        status, _, _ = http("HEAD", f"{vigil.url}/v2/{repo}/blobs/{digest}")
        assert status == (200 if digest == present else 404), digest


def test_skopeo_manifest_put_without_push_right_is_denied(vigil, containers_env, layout, users, read_only_repo,
                                                          audit, skopeo_ua):
    """All of v1's blobs are there, so skopeo goes straight to the manifest PUT: a denied push_repo with the tag."""
    repo, image = read_only_repo, layout["v1"]
    mark = audit.mark()
    fails(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", f"{READER}:{READER_PASSWORD}",
           f"oci:{layout['path']}:v1", f"docker://{vigil.host}/{repo}:copy"], env=containers_env)
    events = audit.since(mark, skopeo_ua)
    check_common(vigil, events, skopeo_ua)
    rest = repo_events(events, repo)
    assert [e["kind"] for e in events if e not in rest] == ["ping", "login_success"], summary(events)
    assert Counter(e["kind"] for e in rest) == {"head_blob": len(image["blobs"]), "push_repo": 1}, summary(events)
    assert all(e["outcome"] == "success" for e in of_kind(rest, "head_blob")), summary(events)
    put = rest[-1]
    assert (put["kind"], put["outcome"], put["response"]["status"], put["response"]["error"]) == \
        ("push_repo", "denied", 401, "UNAUTHORIZED"), put
    assert put["user"] == {"id": users[READER], "name": READER, "kind": "user", "credential": "temporary_token",
                           "token_id": None}, put
    assert put["target"]["tag"] == "copy" and put["artifact"] == f"{repo}:copy", put
    assert put["reason"] == "the token's scope does not cover this request", put


def test_oras_push_without_push_right_is_denied(vigil, users, read_only_repo, audit, tmp_path, monkeypatch):
    """Basic credentials on /v2 (oras-py's basic backend): the refusal is 403 DENIED."""
    oras_client = pytest.importorskip("oras.client")
    import requests

    monkeypatch.chdir(tmp_path)
    user_agent = f"python-requests/{requests.__version__}"
    client = oras_client.OrasClient(hostname=vigil.host, insecure=True, auth_backend="basic")
    client.login(username=READER, password=READER_PASSWORD, hostname=vigil.host,
                 config_path=str(tmp_path / "oras-docker-config.json"))
    repo = read_only_repo
    Path("note.txt").write_bytes(secrets.token_bytes(32))
    mark = audit.mark()
    with pytest.raises(ValueError, match="DENIED"):
        client.push(target=f"{vigil.host}/{repo}:oras", files=["note.txt:text/plain"], quiet=True)
    events = audit.since(mark, user_agent)
    check_common(vigil, events, user_agent)
    assert events == repo_events(events, repo), summary(events)

    denied = [e for e in events if e["user"]["kind"] == "user" and e["outcome"] == "denied"]
    assert denied, summary(events)
    for e in denied:
        assert (e["kind"], e["operation"], e["action"]) == ("start_upload", "StartUpload", "upload"), e
        assert (e["response"]["status"], e["response"]["error"]) == (403, "DENIED"), e
        assert e["user"] == {"id": users[READER], "name": READER, "kind": "user", "credential": "password",
                             "token_id": None}, e
        assert e["reason"] == f"{READER} may not push {repo}", e
    # The rest: anonymous first tries (401) and the reader's allowed HEAD on the new blob (404).
    for e in events:
        if e not in denied:
            assert (e["user"]["kind"], e["outcome"], e["response"]["status"]) in (
                ("anonymous", "denied", 401), ("user", "failed", 404)), e
    assert not [e for e in events if e["action"] == "push" and e["outcome"] == "success"], summary(events)


# ---------------------------------------------------------------------------------------------------------------
# 6. the file as a whole


def test_audit_file_parses_with_jq_and_seq_is_gapless(vigil, audit, users):
    """Runs after the tests above (and whatever ran before in the session): every line is one JSON event that
    the real jq reads, seq goes up by exactly 1 from line to line, and no secret is in the file."""
    jq = require_tool("jq")
    raw = audit.raw()
    lines = raw.splitlines()
    assert raw.endswith(b"\n") and all(lines), "one event per line, no blank or unterminated line"

    # jq reads the very bytes read above: the server may append events (a response's deferred `complete` event,
    # say) while the test runs, and the file read twice would then differ by those lines.
    proc = subprocess.run([jq, "-c", "."], input=raw, capture_output=True, timeout=CMD_TIMEOUT)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    parsed = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(parsed) == len(lines), "jq read exactly one value per line"
    assert parsed == [json.loads(line) for line in lines]

    seqs = subprocess.run([jq, "-r", ".seq"], input=raw, capture_output=True, timeout=CMD_TIMEOUT,
                          check=True).stdout.decode().split()
    seqs = [int(s) for s in seqs]
    gaps = [(a, b) for a, b in zip(seqs, seqs[1:]) if b != a + 1]
    assert not gaps, f"seq must go up by 1 from line to line; breaks at {gaps[:10]}"
    # The same from jq itself, as an operator would check it.
    proc = subprocess.run([jq, "-s", "-e", "[.[].seq] as $s | all(range(1; $s | length); $s[.] == $s[. - 1] + 1)",
                           str(audit.path)], capture_output=True, text=True, timeout=CMD_TIMEOUT)
    assert proc.returncode == 0 and proc.stdout.strip() == "true", proc.stdout + proc.stderr

    assert all(e["schema"] == 3 for e in parsed)
    assert len({e["id"] for e in parsed}) == len(parsed), "event ids are unique"
    assert [e["ts"] for e in parsed] == sorted(e["ts"] for e in parsed), "ts never decreases along seq"
    # The CLI's user creations of this module are in the file too, by the CLI, naming the user.
    created = {e["artifact"] for e in parsed if e["kind"] == "user_create" and e["actor"] == "cli"}
    assert {WRITER, READER, LOGIN_USER} <= created, created

    for secret in (ADMIN_PASSWORD, WRITER_PASSWORD, READER_PASSWORD, LOGIN_PASSWORD):
        assert secret.encode() not in raw, f"a password is recorded in {audit.path}"
    for pattern in (API_TOKEN, JWT):
        found = pattern.search(raw)
        assert found is None, f"a token is recorded in {audit.path}: {found.group(0)[:24]!r}..."
    assert stat.S_IMODE(audit.path.stat().st_mode) == 0o600, "the audit file is private to the server's user"


# ---------------------------------------------------------------------------------------------------------------
# The provable log: skopeo's push has a receipt that verifies offline, and the whole log verifies


def test_skopeo_push_is_provable(vigil, users, pushed, audit, tmp_path):
    """The writer fetches a C2SP tlog-proof receipt for the push_repo event of its own skopeo push; `vigil audit
    verify --receipt` accepts it with the served key and rejects it once the entry is changed; then the server's
    whole log verifies through its tiles API and, offline, the journal and audit.jsonl against the tree."""
    push = [e for e in pushed["events"] if e["kind"] == "push_repo"]
    assert len(push) == 1, summary(pushed["events"])
    seq = push[0]["seq"]
    status, _, key = http("GET", f"{vigil.url}/audit/key", auth=None)
    assert status == 200
    key = key.decode().strip()

    writer = basic_auth(WRITER, WRITER_PASSWORD)
    deadline = time.monotonic() + 10
    while True:  # the push joins the next checkpoint within about a second
        status, _, body = http("GET", f"{vigil.url}/api/v1/audit/receipt/{seq}", auth=writer)
        if status == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert status == 200, body
    receipt = body.decode()
    assert receipt.startswith("c2sp.org/tlog-proof@v1\n") and f"\nindex {seq - 1}\n" in receipt, receipt
    extra = next(line for line in receipt.splitlines() if line.startswith("extra "))
    line = next(raw for raw in audit.raw().splitlines() if json.loads(raw)["seq"] == seq)
    assert base64.b64decode(extra.split(" ", 1)[1]) == line, "the receipt carries the event exactly as logged"

    good = tmp_path / "push.tlog-proof"
    good.write_text(receipt)
    out = vigil.cli("audit", "verify", "--receipt", good, "--key", key).stdout
    assert f"seq {seq} is in the log" in out and "OK: the audit log verifies" in out, out
    bad = tmp_path / "changed.tlog-proof"
    changed = json.loads(line)
    changed["artifact"] += "x"
    forged = base64.b64encode(json.dumps(changed, separators=(",", ":")).encode()).decode()
    bad.write_text(receipt.replace(extra, f"extra {forged}"))
    proc = vigil.cli("audit", "verify", "--receipt", bad, "--key", key, check=False)
    assert proc.returncode != 0 and "FAIL" in proc.stdout, proc.stdout

    # Another user's event is not the writer's to fetch.
    status, _, _ = http("GET", f"{vigil.url}/api/v1/audit/receipt/{seq}",
                        auth=basic_auth(READER, READER_PASSWORD))
    assert status == 404

    env = dict(vigil.env, VIGIL_PASSWORD=ADMIN_PASSWORD)
    proc = subprocess.run([str(vigil.binary), "audit", "verify", "--url", vigil.url, "--user", "admin", "--key", key],
                          cwd=vigil.work_dir, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "OK: the audit log verifies" in proc.stdout, describe(proc)
    out = vigil.cli("audit", "verify", "--key", key, audit.path).stdout
    assert "OK: the audit log verifies" in out and "FAIL" not in out, out
