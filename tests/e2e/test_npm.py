"""npm end to end with the machine's npm: publish a scoped package with a vigil API token in `.npmrc`, install it
into an app, refuse a republish (409), refuse an anonymous read of a private repository, move dist-tags, deprecate,
and unpublish a version and then the package; each step's audit event is read back from `audit.jsonl`."""

import json
import os
import subprocess

from conftest import ADMIN_USER
from test_audit import AuditLog


def npm(cwd, *args, check=True):
    env = {**os.environ, "npm_config_cache": str(cwd.parent / "npm-cache"), "npm_config_update_notifier": "false",
           "npm_config_audit": "false", "npm_config_fund": "false"}
    proc = subprocess.run(["npm", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    if check:
        assert proc.returncode == 0, f"npm {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


def npm_events(log, mark):
    return [e for e in log.events() if e["seq"] > mark and e["registry"] == "npm"]


def test_npm_publish_install_tags_unpublish(vigil, tmp_path):
    log = AuditLog(vigil)
    vigil.cli("repo", "create", "e2e/js", "--format", "npm")
    token = vigil.cli("token", "create", "--user", ADMIN_USER).stdout.strip()
    registry = f"{vigil.url}/npm/e2e/js/"
    npmrc = f"@e2e:registry={registry}\n//{vigil.host}/npm/e2e/js/:_authToken={token}\n"

    pkg, app = tmp_path / "pkg", tmp_path / "app"
    for d in (pkg, app):
        d.mkdir()
        (d / ".npmrc").write_text(npmrc)
    (pkg / "index.js").write_text('module.exports = "hello from vigil";\n')
    (pkg / "package.json").write_text(json.dumps({"name": "@e2e/hello", "version": "1.0.0", "main": "index.js"}))

    mark = log.mark()
    npm(pkg, "publish")
    pushes = [e for e in npm_events(log, mark) if e["kind"] == "push_repo"]
    assert len(pushes) == 1, pushes
    ev = pushes[0]
    assert (ev["action"], ev["outcome"], ev["artifact"], ev["user"]["name"]) == \
        ("push", "success", "@e2e/hello@1.0.0", ADMIN_USER), ev
    assert ev["detail"].startswith("sha256:") and ev["target"]["repository"] == "e2e/js", ev

    # Republishing the same version is refused, with npm's own message.
    again = npm(pkg, "publish", check=False)
    assert again.returncode != 0 and "1.0.0" in again.stderr, again.stderr

    (app / "package.json").write_text(json.dumps({"name": "app", "version": "0.0.1"}))
    npm(app, "install", "--prefer-online", "@e2e/hello")
    out = subprocess.run(["node", "-e", 'console.log(require("@e2e/hello"))'], cwd=app, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "hello from vigil"

    # Without the token, the private repository answers 401 and the denial is recorded.
    mark = log.mark()
    anon = tmp_path / "anon"
    anon.mkdir()
    (anon / ".npmrc").write_text(f"@e2e:registry={registry}\n")
    denied = npm(anon, "view", "@e2e/hello", check=False)
    assert denied.returncode != 0 and "401" in denied.stderr, denied.stderr
    assert any(e["outcome"] == "denied" and e["kind"] == "list_versions" for e in npm_events(log, mark))

    npm(pkg, "dist-tag", "add", "@e2e/hello@1.0.0", "beta")
    tags = npm(pkg, "dist-tag", "ls", "@e2e/hello").stdout
    assert "beta: 1.0.0" in tags and "latest: 1.0.0" in tags, tags
    npm(pkg, "deprecate", "@e2e/hello@1.0.0", "use 1.1")
    assert npm(pkg, "view", "@e2e/hello@1.0.0", "deprecated").stdout.strip() == "use 1.1"

    (pkg / "package.json").write_text(json.dumps({"name": "@e2e/hello", "version": "1.1.0", "main": "index.js"}))
    npm(pkg, "publish")
    mark = log.mark()
    npm(pkg, "unpublish", "@e2e/hello@1.0.0")
    assert npm(pkg, "view", "@e2e/hello", "versions").stdout.strip() == "1.1.0"
    deletes = [e for e in npm_events(log, mark) if e["kind"] == "delete_version"]
    assert [(e["artifact"], e["outcome"]) for e in deletes] == [("@e2e/hello@1.0.0", "success")], deletes
    # npm's follow-up DELETE of the tarball (at its absolute URL's path under the registry's) is understood too.
    after = [(e["kind"], e["outcome"], e["response"]["status"]) for e in npm_events(log, mark)]
    assert all(outcome == "success" for _, outcome, _ in after), after
    npm(pkg, "unpublish", "@e2e/hello", "--force")
    gone = npm(pkg, "view", "@e2e/hello", check=False)
    assert gone.returncode != 0 and "404" in gone.stderr, gone.stderr
