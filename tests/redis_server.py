"""A throwaway redis-server for the tests: its own free port and directory, nothing saved."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

# Bounded readiness wait: redis-server starts in milliseconds; this allows a loaded CI machine.
READY_TIMEOUT_SECONDS = 10.0
PING_INTERVAL_SECONDS = 0.05
# A port found free can be taken before redis-server binds it: try another this many times.
START_ATTEMPTS = 3


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _ready(process: subprocess.Popen[bytes], port: int) -> bool:
    """Ping until the server answers (True) or exits or the wait runs out (False)."""
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.5)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.ping():
                    return True
            except redis.ConnectionError:
                pass
            time.sleep(PING_INTERVAL_SECONDS)  # polling for readiness, bounded above
        return False
    finally:
        client.close()


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@contextmanager
def running_redis(directory: Path) -> Iterator[str]:
    """Start redis-server on a free loopback port in `directory`; yield its URL; stop it.

    Skips the requesting tests when redis-server is not installed.
    """
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.skip("redis-server is not installed (scripts/install.sh --test installs it)")
    log_path = directory / "redis.log"
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                [
                    executable,
                    "--port",
                    str(port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(directory),
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        if _ready(process, port):
            break
        _stop(process)
    else:
        raise RuntimeError(f"redis-server did not start; see {log_path}:\n{log_path.read_text()}")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)
