"""Starting and stopping a vigil server, for the benchmark stages that run one of their own (audit queries,
forwarding, soak): `serve` waits for the listening line and keeps draining the log so the server never blocks on
it; `stop` asks it to stop and kills it if it does not within 30 s."""

import re
import socket
import subprocess
import threading
import time

LISTENING = re.compile(r"vigil listening on http://127\.0\.0\.1:(\d+)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(vigil_bin: str, env: dict, fail, cwd=None, timeout: float = 60.0,
          what: str = "vigil") -> tuple[subprocess.Popen, int]:
    """`vigil serve` on 127.0.0.1 and a free port; its process and port once it listens."""
    proc = subprocess.Popen([vigil_bin, "serve", "--listen", "127.0.0.1:0"], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = []
    deadline = time.monotonic() + timeout
    while True:
        line = proc.stderr.readline()
        if not line:
            raise fail(f"{what} exited before listening: {''.join(seen[-10:])}")
        seen.append(line)
        if m := LISTENING.search(line):
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, int(m.group(1))
        if time.monotonic() > deadline:
            proc.kill()
            raise fail(f"{what} did not start within {timeout:.0f} s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
