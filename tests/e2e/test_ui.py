"""The web UI in a real browser (Debian's chromium driven by playwright-core, `tests/ui/ui.test.mjs`).

This module seeds what the browser tests read, the way users make it: a non-admin user with an image of their own,
an image umoci built and skopeo pushed (then pulled by curl with a user agent carrying a script), a raw repository
with a file, and a failed login whose user name is HTML. Then it runs the Node tests against the same server and
fails with their output if any fails. With ``VIGIL_UI_SCREENSHOTS=<dir>`` the main pages are captured there
(`docs/ui/` holds the committed ones).
"""

import os
import shutil
import subprocess

import pytest

from conftest import ADMIN_PASSWORD, ADMIN_USER, REPO_ROOT, require_tool
from test_real_clients import ADMIN_CREDS, run

VIEWER, VIEWER_PASSWORD = "uiviewer", "ui-viewer-password"
XSS_AGENT = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"
XSS_USER = "<img src=x onerror=window.__xss=3>"
UI_TESTS = REPO_ROOT / "tests" / "ui"


def curl(*args: str) -> None:
    proc = subprocess.run(["curl", "-sS", "-o", "/dev/null", *args], capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


@pytest.fixture(scope="module")
def seeded(vigil, containers_env, tmp_path_factory):
    require_tool("umoci")
    require_tool("skopeo")
    env = containers_env
    vigil.cli("user", "add", VIEWER, "--password-stdin", input=VIEWER_PASSWORD + "\n")
    base = tmp_path_factory.mktemp("ui-image")
    layout, bundle = base / "layout", base / "bundle"
    run(["umoci", "init", "--layout", layout], env=env)
    run(["umoci", "new", "--image", f"{layout}:v1"], env=env)
    run(["umoci", "unpack", "--rootless", "--image", f"{layout}:v1", bundle], env=env)
    (bundle / "rootfs" / "hello.txt").write_text("hello from the UI tests\n")
    run(["umoci", "repack", "--image", f"{layout}:v1", bundle], env=env)
    run(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", ADMIN_CREDS, f"oci:{layout}:v1",
         f"docker://{vigil.host}/uiteam/app:v1"], env=env)
    run(["skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", f"{VIEWER}:{VIEWER_PASSWORD}",
         f"oci:{layout}:v1", f"docker://{vigil.host}/{VIEWER}/mine:v1"], env=env)
    accept = "application/vnd.oci.image.manifest.v1+json"
    curl("-u", ADMIN_CREDS, "-A", XSS_AGENT, "-H", f"Accept: {accept}", f"{vigil.url}/v2/uiteam/app/manifests/v1")
    curl("-u", f"{XSS_USER}:wrong", f"{vigil.url}/v2/")
    vigil.cli("repo", "create", "uiteam/files", "--format", "raw")
    readme = base / "readme.txt"
    readme.write_text("the UI lists this file\n")
    curl("-u", ADMIN_CREDS, "-T", str(readme), f"{vigil.url}/raw/uiteam/files/docs/readme.txt")
    return {"layout": layout}


def test_the_web_ui_in_chromium(vigil, containers_env, seeded):
    # scripts/test installs both; a missing browser fails the run rather than skipping the UI unseen.
    assert shutil.which("chromium"), "Debian's chromium is not installed (apt-get install chromium)"
    assert (UI_TESTS / "node_modules" / "playwright-core").is_dir(), "run `npm ci` in tests/ui"
    env = dict(containers_env)
    env.update({
        "VIGIL_URL": vigil.url,
        "VIGIL_HOST": vigil.host,
        "ADMIN_USER": ADMIN_USER,
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
        "VIEWER_USER": VIEWER,
        "VIEWER_PASSWORD": VIEWER_PASSWORD,
        "LAYOUT": str(seeded["layout"]),
        "XSS_AGENT": XSS_AGENT,
        "BINARY": str(vigil.binary),
    })
    if os.environ.get("VIGIL_UI_SCREENSHOTS"):
        env["SCREENSHOT_DIR"] = os.environ["VIGIL_UI_SCREENSHOTS"]
    proc = subprocess.run(["node", "--test", "--test-reporter=spec", "ui.test.mjs"], cwd=UI_TESTS, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n--- vigil ---\n{vigil.log_tail()}"
