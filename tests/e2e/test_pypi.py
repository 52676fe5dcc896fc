"""PyPI end to end with the real clients: build an sdist and a wheel (`python -m build`), upload them with twine
(a password, then `__token__` with an API token: the same files again are accepted), refuse a changed file under a
used name and an anonymous upload, install with pip from the simple index, yank the release (pip then skips it for
a range and still installs it pinned), and read each step's audit event back from `audit.jsonl`."""

import json
import subprocess
import sys
import urllib.request

from conftest import ADMIN_AUTH, ADMIN_PASSWORD, ADMIN_USER, HTTP
from test_audit import AuditLog


def run(*args, cwd=None, check=True):
    proc = subprocess.run([*map(str, args)], cwd=cwd, capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, f"{' '.join(map(str, args))}\n{proc.stdout}\n{proc.stderr}"
    return proc


def build(project, greeting):
    (project / "demo_pkg").mkdir(parents=True, exist_ok=True)
    (project / "demo_pkg" / "__init__.py").write_text(f"GREETING = {greeting!r}\n")
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "Demo.Pkg"\nversion = "1.0.0"\ndescription = "a demo"\nrequires-python = ">=3.8"\n')
    run(sys.executable, "-m", "build", "--no-isolation", "--outdir", project / "dist", project)
    return sorted((project / "dist").iterdir())


def twine(url, user, password, files, check=True):
    return run(sys.executable, "-m", "twine", "upload", "--disable-progress-bar", "--non-interactive",
               "--repository-url", url, "-u", user, "-p", password, *files, check=check)


def pip_install(index, target, requirement, check=True):
    return run(sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-cache-dir",
               "--target", target, "--index-url", index, requirement, check=check)


def test_twine_upload_pip_install_and_yank(vigil, tmp_path):
    log = AuditLog(vigil)
    vigil.cli("repo", "create", "e2e/py", "--format", "pypi")
    url = f"{vigil.url}/pypi/e2e/py/"
    index = f"http://{ADMIN_USER}:{ADMIN_PASSWORD}@{vigil.host}/pypi/e2e/py/simple/"
    files = build(tmp_path / "demo", "hello from vigil")
    assert [f.name for f in files] == ["Demo.Pkg-1.0.0-py3-none-any.whl", "Demo.Pkg-1.0.0.tar.gz"]

    mark = log.mark()
    twine(url, ADMIN_USER, ADMIN_PASSWORD, files)
    pushes = [e for e in log.events() if e["seq"] > mark and e["kind"] == "push_repo" and e["registry"] == "pypi"]
    assert [(e["outcome"], e["artifact"], e["user"]["name"], e["registry"]) for e in pushes] == \
        [("success", "demo-pkg@1.0.0", ADMIN_USER, "pypi")] * 2, pushes
    assert all(e["detail"].startswith("sha256:") for e in pushes), pushes

    token = vigil.cli("token", "create", "--user", ADMIN_USER, "--scope", "e2e/py:pull,push").stdout.strip()
    twine(url, "__token__", token, files)  # the same files again: accepted as already there

    changed = build(tmp_path / "changed", "another build")
    refused = twine(url, ADMIN_USER, ADMIN_PASSWORD, [changed[1]], check=False)
    assert refused.returncode != 0 and "File already exists" in refused.stdout + refused.stderr, refused

    mark = log.mark()
    anonymous = run(sys.executable, "-m", "twine", "upload", "--disable-progress-bar", "--non-interactive",
                    "--repository-url", url, "-u", "", "-p", "", *files, check=False)
    assert anonymous.returncode != 0 and "401" in anonymous.stdout + anonymous.stderr, anonymous
    assert any(e["outcome"] == "denied" and e["registry"] == "pypi" for e in log.events() if e["seq"] > mark)

    target = tmp_path / "site"
    pip_install(index, target, "demo-pkg")
    out = run(sys.executable, "-c", "import demo_pkg; print(demo_pkg.GREETING)", cwd=target).stdout
    assert out.strip() == "hello from vigil"
    pulls = [e for e in log.events() if e["seq"] > mark and e["kind"] == "pull_repo" and e["registry"] == "pypi"]
    assert pulls and pulls[-1]["artifact"] == "demo-pkg@1.0.0", pulls

    req = urllib.request.Request(f"{url}-/yank/demo-pkg/1.0.0", method="POST", data=b'{"reason": "broken build"}',
                                 headers={"Authorization": ADMIN_AUTH, "Content-Type": "application/json"})
    with HTTP.open(req) as resp:
        assert json.load(resp)["yanked"] is True
    skipped = pip_install(index, tmp_path / "range", "demo-pkg>=1", check=False)
    assert skipped.returncode != 0, skipped
    pinned = pip_install(index, tmp_path / "pinned", "demo-pkg==1.0.0")
    assert "broken build" in pinned.stdout + pinned.stderr, pinned
    yanks = [e for e in log.events() if e["kind"] == "yank_version" and e["registry"] == "pypi"]
    assert [(e["artifact"], e["detail"], e["outcome"]) for e in yanks] == \
        [("demo-pkg@1.0.0", "broken build", "success")], yanks

    # The CLI takes the yank back: a range finds the release again.
    vigil.cli("pypi", "unyank", "e2e/py", "Demo.Pkg", "1.0.0")
    pip_install(index, tmp_path / "again", "demo-pkg>=1")
    unyanks = [e for e in log.events() if e["kind"] == "unyank_version" and (e["target"] or {}).get("repository") == "e2e/py"]
    assert [(e["artifact"], e["actor"], e["target"]["repository"]) for e in unyanks] == \
        [("demo-pkg@1.0.0", "cli", "e2e/py")], unyanks
