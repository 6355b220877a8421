"""``ninefold serve --workers 2`` as users run it: each worker listens on its own socket
(connections are spread over both), a worker that dies is replaced, SIGTERM stops them all,
and a taken port is an error at once."""

from __future__ import annotations

import collections
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster import free_port

ROOT = Path(__file__).resolve().parent.parent


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _workers(pid: int) -> list[int]:
    """The web workers (the spawned processes that run uvicorn, not multiprocessing helpers)."""
    found = []
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            found.append(child)
    return found


def _owner_of(port: int, local_port: int) -> int | None:
    """The pid of the server process holding the accepted end of a client connection."""
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} and dport = :{local_port} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in out.splitlines():
        if "pid=" in line:
            return int(line.split("pid=", 1)[1].split(",", 1)[0])
    return None


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src"),
        "NINEFOLD_DATABASE_URL": f"sqlite:///{tmp_path / 'nf.db'}",
        "NINEFOLD_LOG_LEVEL": "warning",
    }
    cmd = [sys.executable, "-m", "ninefold", "serve", "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen([*cmd, "--workers", "2"], env=env, cwd=ROOT, stdout=subprocess.PIPE)
    try:
        _wait_ready(port, proc)
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for child in _children(proc.pid):
            os.kill(child, signal.SIGKILL)


def _wait_ready(port: int, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("serve did not answer")


def test_connections_are_spread_over_the_workers(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = served
    deadline = time.monotonic() + 30
    while len(_workers(proc.pid)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    owners: collections.Counter[int] = collections.Counter()
    clients = []
    for _ in range(40):  # keep-alive connections, opened at once as a load generator does
        c = socket.create_connection(("127.0.0.1", port))
        clients.append(c)
    try:
        for c in clients:
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for c in clients:
            assert c.recv(4096).startswith(b"HTTP/1.1 200")
            owner = _owner_of(port, c.getsockname()[1])
            assert owner is not None
            owners[owner] += 1
    finally:
        for c in clients:
            c.close()
    assert set(owners) == set(_workers(proc.pid))
    # a hash over 40 client ports: both get a fair share (P(fewer than 8) is below 1e-4)
    assert min(owners.values()) >= 8, owners


def test_a_dead_worker_is_replaced_and_sigterm_stops_everything(
    served: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = served
    deadline = time.monotonic() + 30
    while len(_workers(proc.pid)) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    first = _workers(proc.pid)
    os.kill(first[0], signal.SIGKILL)
    deadline = time.monotonic() + 30
    while True:
        now = _workers(proc.pid)
        if len(now) == 2 and first[0] not in now:
            break
        assert time.monotonic() < deadline, now
        time.sleep(0.1)
    for _ in range(20):
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    workers = _workers(proc.pid)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0
    for pid in workers:
        assert (
            not Path(f"/proc/{pid}").exists()
            or b"zombie" in Path(f"/proc/{pid}/status").read_bytes().lower()
        )


def test_a_taken_port_is_an_error_at_once(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT / "src"),
            "NINEFOLD_DATABASE_URL": f"sqlite:///{tmp_path / 'nf.db'}",
            "NINEFOLD_ENGINE_ENABLED": "false",
        }
        cmd = [sys.executable, "-m", "ninefold", "serve", "--host", "127.0.0.1"]
        r = subprocess.run(
            [*cmd, "--port", str(port), "--workers", "2"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in r.stdout + r.stderr


def test_workers_bind_the_address_family_one_worker_would() -> None:
    """``--host localhost`` is 127.0.0.1 with one worker (uvicorn) and so with several."""
    from ninefold.cli import workers

    assert workers._address("localhost", 0)[0] == socket.AF_INET
    assert workers._address("127.0.0.1", 0) == (socket.AF_INET, ("127.0.0.1", 0))
    assert workers._address("::1", 0)[0] == socket.AF_INET6
