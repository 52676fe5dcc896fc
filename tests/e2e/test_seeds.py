"""The user's documents (shared/seeds) as typed: every command of the NORA, DTR, Nomad and Quay pages, run through
bash with curl, jq and grep against a vigil configured the way the page's reader would (`auth.service = "dtr"` for
DTR's token requests, `VIGIL_AUDIT_LOG=both` for NORA's, an allowlisted callback and an e-mail relay for Quay's
exports). The only edits to a command are its placeholders (`<dtr-url>` is this server's address, `https://` is
`http://` since the test server speaks plain HTTP) and, once, a stray quote the Quay page has at the end of a line.

Each response is checked for the shape the page shows.
"""

import http.server
import json
import os
import socketserver
import stat
import subprocess
import threading
import time
from datetime import datetime, timezone

import pytest

from conftest import ADMIN_PASSWORD, ADMIN_USER, require_tool, start_vigil, stop_vigil

CMD_TIMEOUT = 120
PATIENCE = 30.0  # how long a test waits for something the server owes it (a callback, an e-mail)
ALICE, ALICE_PASSWORD = "seedalice", "seed-alice-password"


def sh(command: str, env=None) -> str:
    """Runs one command line in bash, as a reader of the page would type it; fails the test on a non-zero exit."""
    proc = subprocess.run(["bash", "-o", "pipefail", "-c", command], capture_output=True, text=True,
                          timeout=CMD_TIMEOUT, env=env)
    assert proc.returncode == 0, f"{command}\nexit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def sh_json(command: str, env=None):
    return json.loads(sh(command, env))


def wait_for(condition, what: str):
    deadline = time.monotonic() + PATIENCE
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {PATIENCE}s"
        time.sleep(0.05)


class Receivers:
    """An HTTP server that keeps every POSTed JSON body (export callbacks) and an SMTP relay that keeps every
    message (export e-mail), both on 127.0.0.1."""

    def __init__(self):
        self.posts, self.mail = [], []
        posts = self.posts

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                posts.append((self.path, json.loads(body)))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        mail = self.mail

        class Relay(socketserver.StreamRequestHandler):
            def reply(self, line: str):
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                self.reply("220 relay.test ESMTP")
                recipients = []
                while line := self.rfile.readline():
                    verb = line.decode(errors="replace").strip().split(" ", 1)[0].upper()
                    if verb == "RCPT":
                        recipients.append(line.decode().strip())
                    if verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk)
                        mail.append((recipients, b"".join(data).decode(errors="replace")))
                        recipients = []
                        self.reply("250 queued")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:
                        self.reply("250 ok")

        self.hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        self.relay = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Relay)
        self.relay.daemon_threads = True
        for server in (self.hook, self.relay):
            threading.Thread(target=server.serve_forever, daemon=True).start()
        self.hook_origin = f"http://127.0.0.1:{self.hook.server_address[1]}"
        self.relay_port = self.relay.server_address[1]

    def close(self):
        for server in (self.hook, self.relay):
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="module")
def receivers():
    r = Receivers()
    yield r
    r.close()


@pytest.fixture(scope="module")
def seeds(tmp_path_factory, receivers):
    """A vigil for the pages' readers, with `library/wordpress:1` and `library/nginx:1` pushed by the admin into
    the organization `library`, and a user who may read neither."""
    for tool in ("curl", "jq", "skopeo", "umoci"):
        require_tool(tool)
    config = f"""
[auth]
service = "dtr"

[audit.export]
callback_allowlist = ["{receivers.hook_origin}"]

[audit.export.smtp]
host = "127.0.0.1"
port = {receivers.relay_port}
tls = "none"
from = "vigil <vigil@example.com>"
recipient_domains = ["example.com"]
"""
    base = tmp_path_factory.mktemp("seeds")
    server = start_vigil(base, {"VIGIL_AUDIT_LOG": "both"}, config)
    server.cli("org", "create", "library")
    server.cli("user", "add", ALICE, "--password-stdin", input=f"{ALICE_PASSWORD}\n")

    layout = base / "layout"
    sh(f"umoci init --layout {layout} && umoci new --image {layout}:base")
    bundle = base / "bundle"
    sh(f"umoci unpack --rootless --image {layout}:base {bundle}")
    (bundle / "rootfs" / "index.php").write_text(os.urandom(16).hex() + "\n")
    sh(f"umoci repack --image {layout}:base {bundle}")
    index = json.loads((layout / "index.json").read_text())
    manifest_digest = index["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest.split(":")[1]).read_bytes())
    blobs = [manifest["config"]["digest"], *[layer["digest"] for layer in manifest["layers"]]]
    creds = f"--dest-creds {ADMIN_USER}:{ADMIN_PASSWORD} --dest-tls-verify=false"
    conf = base / "registries.conf"
    conf.write_text("unqualified-search-registries = []\n")
    env = {**os.environ, "CONTAINERS_REGISTRIES_CONF": str(conf), "REGISTRY_AUTH_FILE": str(base / "auth.json")}
    (base / "auth.json").write_text('{"auths": {}}\n')
    for repo in ("library/wordpress", "library/nginx"):
        sh(f"skopeo copy {creds} oci:{layout}:base docker://{server.host}/{repo}:1", env)
    server.pushed = {"manifest": manifest_digest, "blobs": blobs}
    yield server
    stop_vigil(server)


def placeholders(server, text: str) -> str:
    return text.replace("https://<dtr-url>", f"http://{server.host}").replace("<dtr-url>", server.host)


# ---- DTR 2.4: "Check Notary audit logs" ----

CHANGEFEED_FIELDS = {"ID", "CreatedAt", "GUN", "Version", "SHA256", "Category"}


def test_dtr_token_requests_answer_the_documented_shape(seeds):
    for scope in ("registry:catalog:*", "repository:<dtr-url>/library/wordpress:pull"):
        got = sh_json(placeholders(seeds, f"""curl --insecure --silent \\
--user {ADMIN_USER}:{ADMIN_PASSWORD} \\
"https://<dtr-url>/auth/token?realm=dtr&service=dtr&scope={scope}\""""))
        assert set(got) == {"token", "access_token", "expires_in", "issued_at"}, got
        assert got["token"] == got["access_token"] and got["expires_in"] > 0, got


def test_dtr_changefeed_of_all_repositories_as_typed(seeds):
    got = sh_json(placeholders(seeds, f"""export TOKEN=$(curl --insecure --silent \\
--user '{ADMIN_USER}:{ADMIN_PASSWORD}' \\
'https://<dtr-url>/auth/token?realm=dtr&service=dtr&scope=registry:catalog:*' | jq --raw-output .token)
curl --insecure --silent \\
--header "Authorization: Bearer $TOKEN" \\
"https://<dtr-url>/v2/_trust/changefeed?records=10&change_id=0" | jq ."""))
    assert got["count"] == len(got["records"]) == 2, got
    digest_hex = seeds.pushed["manifest"].split(":")[1]
    for record, repo in zip(got["records"], ("library/wordpress", "library/nginx")):
        assert set(record) == CHANGEFEED_FIELDS, record
        assert (record["GUN"], record["Version"], record["SHA256"], record["Category"]) == \
            (repo, 1, digest_hex, "update"), record
        assert datetime.fromisoformat(record["CreatedAt"].replace("Z", "+00:00")).tzinfo == timezone.utc


def test_dtr_changefeed_of_one_repository_as_typed(seeds):
    # The page's own example: a repository-scoped token, host-prefixed, then the host-prefixed path.
    command = f"""export TOKEN=$(curl --insecure --silent \\
--user '{ADMIN_USER}:{ADMIN_PASSWORD}' \\
'https://<dtr-url>/auth/token?realm=dtr&service=dtr&scope=repository:<dtr-url>/library/nginx:pull' \
| jq --raw-output .token)
curl --insecure --silent \\
--header "Authorization: Bearer $TOKEN" \\
"https://<dtr-url>/v2/<dtr-url>/library/nginx/_trust/changefeed?records=10&change_id=0" | jq ."""
    got = sh_json(placeholders(seeds, command))
    assert got["count"] == 1 and got["records"][0]["GUN"] == "library/nginx", got
    # The host without its port names this registry too.
    bare = seeds.host.split(":")[0]
    got = sh_json(placeholders(seeds, command).replace(f"{seeds.host}/library", f"{bare}/library"))
    assert got["count"] == 1 and got["records"][0]["GUN"] == "library/nginx", got
    # `change_id=1`: from the most recent record, counting back whatever the sign of `records`; the same as -1.
    newest = placeholders(seeds, command).replace("change_id=0", "change_id=1")
    assert sh_json(newest)["records"] == got["records"]
    assert sh_json(newest.replace("records=10", "records=-10"))["records"] == got["records"]
    assert sh_json(newest.replace("change_id=1", "change_id=-1"))["records"] == got["records"]


def test_dtr_token_without_access_is_issued_and_the_changefeed_refuses(seeds):
    """"DTR returns a JSON file with a token, even when the user doesn't have access to the repository [...] the
    changefeed API validates if the user has access.\""""
    for scope in ("repository:<dtr-url>/library/nginx:pull", "repository:library/nginx:pull",
                  "registry:catalog:*"):
        token_request = placeholders(seeds, f"""curl --insecure --silent \\
--user '{ALICE}:{ALICE_PASSWORD}' \\
'https://<dtr-url>/auth/token?realm=dtr&service=dtr&scope={scope}' | jq --raw-output .token""")
        token = sh(token_request).strip()
        assert token and token != "null", scope
        # The repository's feed asks for a better token (401 insufficient_scope); the global feed is for admins.
        for path, refused in (("/v2/<dtr-url>/library/nginx/_trust/changefeed", "401"),
                              ("/v2/_trust/changefeed", "403")):
            status = sh(placeholders(seeds, f"""curl --insecure --silent --output /dev/null --write-out '%{{http_code}}' \\
--header "Authorization: Bearer {token}" \\
"https://<dtr-url>{path}?records=10&change_id=0\""""))
            assert status == refused, (scope, path, status)


# ---- NORA: "Audit Log" ----

def audit_file(server):
    return server.env["VIGIL_DATA_DIR"] + "/audit.jsonl"


def test_nora_all_pushes_are_artifacts_stored(seeds):
    """`grep '"action":"push"'` counts what was stored: each blob of the image once and its manifest, per push;
    the upload steps (start, chunks) have an action of their own."""
    lines = sh(f"""grep '"action":"push"' {audit_file(seeds)} | jq -c .""").splitlines()
    pushes = [json.loads(line) for line in lines]
    wordpress = [e for e in pushes if e["target"]["repository"] == "library/wordpress"]
    stored = sorted(e["target"]["digest"] for e in wordpress if e["kind"] == "push_blob")
    assert stored == sorted(seeds.pushed["blobs"]), wordpress
    manifests = [e for e in wordpress if e["kind"] == "push_repo"]
    assert [(m["artifact"], m["target"]["digest"]) for m in manifests] == \
        [("library/wordpress:1", seeds.pushed["manifest"])], wordpress
    assert len(wordpress) == len(seeds.pushed["blobs"]) + 1, [e["kind"] for e in wordpress]
    steps = sh(f"""grep '"action":"upload"' {audit_file(seeds)} | jq -r .kind | sort -u""").split()
    assert "start_upload" in steps, steps


def test_nora_queries_and_stderr_forwarding_as_typed(seeds):
    # NORA_AUDIT_LOG=both: the same entries on stderr, which `grep '"action":'` picks out of the log for jq.
    forwarded = sh(f"""cat {seeds.log_path} 2>&1 | grep '"action":' | jq -c .""").splitlines()
    seqs = {json.loads(line)["seq"] for line in forwarded}
    in_file = {json.loads(line)["seq"] for line in open(audit_file(seeds))}
    assert seqs and seqs <= in_file, (len(seqs), len(in_file))
    # The page's own query runs (NORA's actor is the origin, so it selects nothing here, as in NORA).
    sh(f"""jq -c 'select(.registry == "docker" and .actor == "admin")' {audit_file(seeds)}""")
    counts = sh(f"""jq -r '.registry' {audit_file(seeds)} | sort | uniq -c | sort -rn""")
    registries = {line.split()[1]: int(line.split()[0]) for line in counts.splitlines()}
    assert set(registries) == {"docker", "vigil"} and registries["docker"] > 0, counts


# ---- Nomad: the audit block ----

NOMAD_CONFIG = """
[audit]
enabled = true

[[audit.sink]]
name = "file"
type = "file"
delivery_guarantee = "enforced"
format = "json"
path = "audit/audit.log"
rotate_duration = "24h"
rotate_max_files = 15

[[audit.filter]]
type = "HTTPEvent"
endpoints = ["/health"]
stages = ["*"]
operations = ["GET"]
"""


def test_nomad_audit_block_as_written(tmp_path):
    require_tool("curl")
    server = start_vigil(tmp_path, config=NOMAD_CONFIG)
    try:
        sh(f"curl --silent --fail --user {ADMIN_USER}:{ADMIN_PASSWORD} {server.url}/v2/")
        data = server.env["VIGIL_DATA_DIR"]
        log = f"{data}/audit/audit.log"
        # The configured sink replaces the default one: one file, native ("json") lines, mode 0600.
        assert not os.path.exists(f"{data}/audit.jsonl")
        assert stat.S_IMODE(os.stat(log).st_mode) == 0o600
        events = wait_for(lambda: [json.loads(line) for line in open(log)
                                   if '"operation":"CheckApiVersion"' in line], "the ping's event")
        assert events[0]["user"]["name"] == ADMIN_USER and events[0]["action"] == "login", events
        effective = server.cli("config").stdout
        assert 'mode = "off"' in effective and "enabled = true" in effective, effective
    finally:
        stop_vigil(server)


# ---- Quay 3: "Viewing and exporting logs" ----

@pytest.fixture(scope="module")
def bearer(seeds) -> str:
    """An OAuth-style bearer token: a vigil API token of the admin."""
    return seeds.cli("token", "create", "--user", ADMIN_USER, "--name", "quay-seed").stdout.strip()


def quay(seeds, bearer: str, command: str) -> str:
    today = datetime.now(timezone.utc)
    return (command.replace("https://<quay-server.example.com>", seeds.url)
            .replace("http://<quay-server.example.com>", seeds.url)
            .replace("http://quay-server.example.com", seeds.url)
            .replace("<quay-server.example.com>", seeds.host)
            .replace("<bearer_token>", bearer)
            .replace("<username>", ADMIN_USER)
            .replace("<MM/DD/YYYY>", today.strftime("%m/%d/%Y"))
            .replace("{orgname}", "library")
            .replace("<repository_name>/<namespace>", "library/wordpress")
            .replace("{repository}", "library/wordpress"))


def test_quay_aggregated_logs_as_typed(seeds, bearer):
    commands = [
        '''curl -X GET \\ -H "Authorization: Bearer <bearer_token>" \\ -H "Accept: application/json" \\ "https://<quay-server.example.com>/api/v1/user/aggregatelogs"''',
        '''curl -X GET \\ -H "Authorization: Bearer <bearer_token>" \\ -H "Accept: application/json" \\ "<quay-server.example.com>/api/v1/user/aggregatelogs?performer=<username>&starttime=<MM/DD/YYYY>&endtime=<MM/DD/YYYY>"''',
        '''curl -X GET \\ -H "Authorization: Bearer <bearer_token>" \\ -H "Accept: application/json" \\ "<quay-server.example.com>/api/v1/organization/{orgname}/aggregatelogs"''',
    ]
    for command in commands:
        # The page prints each command on one line with `\\ ` where the line breaks were.
        got = sh_json(quay(seeds, bearer, command.replace("\\ ", "\\\n")))
        assert set(got) == {"aggregated"} and got["aggregated"], got
        for row in got["aggregated"]:
            assert set(row) == {"kind", "count", "datetime"} and row["datetime"].endswith(" 00:00:00 -0000"), row
        assert "push_repo" in {row["kind"] for row in got["aggregated"]}, got
    # The repository example, with its YYYY-MM-DD window (its stray closing quote dropped): nothing happened then.
    repo = '''curl -X GET \\ -H "Authorization: Bearer <bearer_token>" \\ -H "Accept: application/json" \\ "<quay-server.example.com>/api/v1/repository/<repository_name>/<namespace>/aggregatelogs?starttime=2024-01-01&endtime=2024-06-18"'''
    assert sh_json(quay(seeds, bearer, repo.replace("\\ ", "\\\n"))) == {"aggregated": []}
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    got = sh_json(quay(seeds, bearer, repo.replace("2024-01-01", today).replace("2024-06-18", today)
                       .replace("\\ ", "\\\n")))
    assert {(row["kind"], row["count"]) for row in got["aggregated"]} >= {("push_repo", 1)}, got


def test_quay_detailed_logs_as_typed(seeds, bearer):
    window = '''curl -X GET -H "Authorization: Bearer <bearer_token>" -H "Accept: application/json" "http://quay-server.example.com/api/v1/user/logs?performer=quayuser&starttime=01/01/2024&endtime=06/18/2024"'''
    got = sh_json(quay(seeds, bearer, window).replace("performer=quayuser", f"performer={ADMIN_USER}"))
    assert (got["start_time"], got["end_time"], got["logs"]) == \
        ("Mon, 01 Jan 2024 00:00:00 -0000", "Wed, 19 Jun 2024 00:00:00 -0000", []), got
    for command in [
        '''curl -X GET -H "Authorization: Bearer <bearer_token>" -H "Accept: application/json" "<quay-server.example.com>/api/v1/user/logs"''',
        '''curl -X GET \\ -H "Authorization: Bearer <bearer_token>" \\ -H "Accept: application/json" \\ "http://<quay-server.example.com>/api/v1/organization/{orgname}/logs"''',
        '''curl -X GET \\ -H "Authorization: Bearer <bearer_token>" \\ -H "Accept: application/json" \\ "http://<quay-server.example.com>/api/v1/repository/{repository}/logs"''',
    ]:
        typed = quay(seeds, bearer, command.replace("\\ ", "\\\n"))
        got = sh_json(typed)
        assert {"start_time", "end_time", "logs"} <= set(got) and got["logs"], got
        # Newest first, 20 a page: follow `next_page` (the same command with the page's token) to the push.
        entries = list(got["logs"])
        while got.get("next_page") and not any(e["kind"] == "push_repo" for e in entries):
            url = typed.rsplit('"', 2)[1]
            sep = "&" if "?" in url else "?"
            got = sh_json(typed.replace(url, f"{url}{sep}next_page={got['next_page']}"))
            entries += got["logs"]
        for entry in entries:
            assert {"kind", "metadata", "ip", "datetime", "performer"} <= set(entry), entry
        pushes = [e for e in entries if e["kind"] == "push_repo"]
        assert pushes and pushes[0]["metadata"]["namespace"] == "library", got
        assert pushes[0]["performer"]["name"] == ADMIN_USER and pushes[0]["ip"] == "127.0.0.1", pushes[0]


def test_quay_exports_as_typed(seeds, bearer, receivers):
    hook = f"{receivers.hook_origin}/your-callback"
    commands = [
        ('''curl -X POST \\ -H "Authorization: Bearer <bearer_token>" \\ -H "Content-Type: application/json" \\ -H "Accept: application/json" \\ -d '{ "starttime": "<MM/DD/YYYY>", "endtime": "<MM/DD/YYYY>", "callback_email": "your.email@example.com" }' \\ "http://<quay-server.example.com>/api/v1/user/exportlogs"''',
         "your.email@example.com"),
        ('''curl -X POST \\ -H "Authorization: Bearer <bearer_token>" \\ -H "Content-Type: application/json" \\ -H "Accept: application/json" \\ -d '{ "starttime": "<MM/DD/YYYY>", "endtime": "<MM/DD/YYYY>", "callback_email": "org.logs@example.com" }' \\ "http://<quay-server.example.com>/api/v1/organization/{orgname}/exportlogs"''',
         "org.logs@example.com"),
    ]
    for command, address in commands:
        got = sh_json(quay(seeds, bearer, command.replace("\\ ", "\\\n")))
        assert set(got) == {"export_id"}, got
        mail = wait_for(lambda: [m for m in receivers.mail if any(address in r for r in m[0])], f"mail to {address}")
        assert "/api/v1/audit/exports/" in mail[0][1].replace("=\r\n", ""), mail[0][1][:2000]
    # The repository export with its YYYY-MM-DD window in the body and a callback URL (here, one of ours).
    repo = '''curl -X POST \\ -H "Authorization: Bearer <bearer_token>" \\ -H "Content-Type: application/json" \\ -H "Accept: application/json" \\ -d '{ "starttime": "2024-01-01", "endtime": "2024-06-18", "callback_url": "http://your-callback-url.example.com" }' \\ "http://<quay-server.example.com>/api/v1/repository/{repository}/exportlogs"'''
    got = sh_json(quay(seeds, bearer, repo.replace("http://your-callback-url.example.com", hook)
                       .replace("\\ ", "\\\n")))
    export_id = got["export_id"]
    path, body = wait_for(lambda: [p for p in receivers.posts if p[1].get("export_id") == export_id],
                          "the export's callback")[0]
    assert path == "/your-callback" and body["status"] == "success", body
    exported = sh_json(f"curl --silent --fail '{body['exported_data_url']}'")
    # The body's window was used: nothing was logged in 2024.
    assert exported["export_id"] == export_id and exported["logs"] == [], exported
