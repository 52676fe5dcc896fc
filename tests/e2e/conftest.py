"""Fixtures for the end-to-end tests: one vigil server for the whole session, on 127.0.0.1 and a free port.

The binary comes from ``VIGIL_BIN`` (default ``target/debug/vigil`` under the repository root). The server runs
from an empty working directory (so no ``./vigil.toml`` is picked up) with a fresh ``VIGIL_DATA_DIR`` and with
every other ``VIGIL_*`` variable removed from its environment (vigil rejects unknown ``VIGIL_*`` keys, and
``VIGIL_BIN`` itself is one of them), except ``VIGIL_ADMIN_PASSWORD``: on its first start vigil creates the global
admin ``admin`` with that password. Identity CLI commands (``vigil user add`` ...) run against the same data
directory while the server is up, through ``Vigil.cli``.
"""

import base64
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"vigil listening on (https?)://127\.0\.0\.1:(\d+)")
START_TIMEOUT = 30.0
ADMIN_USER = "admin"
ADMIN_PASSWORD = "e2e-admin-pass"

# Python clients (requests, urllib) honour *_proxy variables; never send loopback traffic through a proxy.
for _var in ("NO_PROXY", "no_proxy"):
    _have = [h for h in os.environ.get(_var, "").split(",") if h]
    os.environ[_var] = ",".join(_have + ["127.0.0.1", "localhost"])

# urllib without any proxy handler, for the tests' own raw HTTP checks.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def basic_auth(user: str, password: str) -> str:
    """The value of an ``Authorization: Basic ...`` header."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


ADMIN_AUTH = basic_auth(ADMIN_USER, ADMIN_PASSWORD)


@dataclass
class Vigil:
    host: str  # "127.0.0.1:PORT", the registry name clients use
    url: str  # "http://127.0.0.1:PORT"
    log_path: Path
    process: subprocess.Popen
    binary: Path
    env: dict  # the server's environment (VIGIL_DATA_DIR, VIGIL_ADMIN_PASSWORD), reused by `cli`
    work_dir: Path

    def cli(self, *args, input=None, check: bool = True) -> subprocess.CompletedProcess:
        """Runs `vigil ARGS...` against the server's data directory (the identity commands work while it runs)."""
        proc = subprocess.run([str(self.binary), *map(str, args)], cwd=self.work_dir, env=self.env, input=input,
                              capture_output=True, text=True, timeout=60)
        if check:
            assert proc.returncode == 0, (
                f"vigil {' '.join(map(str, args))} failed with exit code {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")
        return proc

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def _vigil_bin() -> Path:
    path = Path(os.environ.get("VIGIL_BIN", "target/debug/vigil"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    if not path.is_file():
        pytest.exit(f"vigil binary not found at {path} (build it with `cargo build -p vigil` or set VIGIL_BIN)", 2)
    return path


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def start_vigil(base: Path, extra_env: dict | None = None, config: str | None = None,
                listen: str = "127.0.0.1:0") -> Vigil:
    """Starts `vigil serve` on 127.0.0.1 and a free port with a fresh data directory under `base`, the given extra
    ``VIGIL_*`` variables and, when given, a ``vigil.toml`` in its working directory. Stop it with `stop_vigil`."""
    binary = _vigil_bin()
    data_dir, work_dir = base / "data", base / "cwd"
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = base / "vigil.log"
    if config is not None:
        (work_dir / "vigil.toml").write_text(config)

    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIL_")}
    env["VIGIL_DATA_DIR"] = str(data_dir)
    env["VIGIL_ADMIN_PASSWORD"] = ADMIN_PASSWORD
    env.update(extra_env or {})
    env.setdefault("RUST_LOG", "info")
    env["NO_COLOR"] = "1"

    log = open(log_path, "wb")
    process = subprocess.Popen(
        [str(binary), "serve", "--listen", listen],
        cwd=work_dir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=log,
    )
    log.close()  # the child holds its own descriptor

    deadline = time.monotonic() + START_TIMEOUT
    match = None
    while match is None:
        match = LISTENING.search(log_path.read_text(errors="replace"))
        if match:
            break
        if process.poll() is not None:
            pytest.exit(f"vigil exited with {process.returncode} before listening:\n{log_path.read_text()}", 2)
        if time.monotonic() > deadline:
            _stop(process)
            pytest.exit(f"vigil did not print its listening line within {START_TIMEOUT}s:\n{log_path.read_text()}", 2)
        time.sleep(0.05)
    if match.group(1) != "http":
        _stop(process)
        pytest.exit("vigil started with TLS; these tests expect plain HTTP", 2)

    server = Vigil(host=f"127.0.0.1:{match.group(2)}", url=f"http://127.0.0.1:{match.group(2)}",
                   log_path=log_path, process=process, binary=binary, env=env, work_dir=work_dir)
    # The port is bound before the line is printed; still, wait until the API answers the admin (which also
    # proves that the first-start admin exists with our password).
    last = None
    while True:
        try:
            req = urllib.request.Request(f"{server.url}/v2/", headers={"Authorization": ADMIN_AUTH})
            with HTTP.open(req, timeout=2) as r:
                if r.status == 200:
                    break
        except urllib.error.HTTPError as e:
            last = f"{e.code} {e.read()!r}"
        except (urllib.error.URLError, OSError) as e:
            last = repr(e)
        if time.monotonic() > deadline:
            _stop(process)
            pytest.exit(f"vigil did not answer GET /v2/ as admin with 200 (last: {last}):\n{server.log_tail()}", 2)
        time.sleep(0.05)
    return server


def stop_vigil(server: Vigil) -> None:
    _stop(server.process)


@pytest.fixture(scope="session")
def vigil(tmp_path_factory) -> Vigil:
    server = start_vigil(tmp_path_factory.mktemp("vigil"))
    yield server
    stop_vigil(server)


@pytest.fixture(scope="session", autouse=True)
def isolated_docker_config(tmp_path_factory):
    """The in-process Python clients (oras-py, docker-py under it) read and write the docker config: point them at
    an empty directory of our own, and at no docker engine, for the whole session."""
    saved = {k: os.environ.get(k) for k in ("DOCKER_CONFIG", "DOCKER_HOST")}
    os.environ["DOCKER_CONFIG"] = str(tmp_path_factory.mktemp("docker-config"))
    os.environ["DOCKER_HOST"] = "unix:///nonexistent/vigil-e2e/docker.sock"
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def containers_env(tmp_path_factory) -> dict:
    """Environment for skopeo/podman/buildah: a registries.conf of our own (no mirrors, no search registries),
    so nothing but the fully qualified 127.0.0.1 references given on the command line is ever contacted.

    REGISTRY_AUTH_FILE names an auth file without credentials: with a user-specified auth file, containers/image
    reads no other credential store (~/.config/containers/auth.json, ~/.docker/config.json), so a command
    without --creds is anonymous. Tests that log in use an auth file of their own (never this one)."""
    base = tmp_path_factory.mktemp("containers")
    conf = base / "registries.conf"
    conf.write_text("unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n")
    env = dict(os.environ)
    env["CONTAINERS_REGISTRIES_CONF"] = str(conf)
    no_auth = base / "no-auth.json"
    no_auth.write_text('{"auths": {}}\n')  # buildah insists that the file exists
    env["REGISTRY_AUTH_FILE"] = str(no_auth)
    env.pop("DOCKER_CONFIG", None)
    return env


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed")
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tail of the server log to failing tests."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and "vigil" in getattr(item, "funcargs", {}):
        report.sections.append(("vigil server log (tail)", item.funcargs["vigil"].log_tail()))
