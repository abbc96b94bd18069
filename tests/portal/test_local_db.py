"""The embedded PostgreSQL (portal.local_db): started by the first process that needs it,
shared by the processes that run at the same time, stopped by the last one to exit, never
kept alive by a process that was killed, never two servers on one data directory.

Each case runs real interpreters with no DATABASE_URL and their own ``PORTAL_VAR_DIR``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from portal import local_db

ROOT = Path(__file__).resolve().parents[2]

QUERY = (
    "import django; django.setup();"
    "from django.db import connection;"
    "c = connection.cursor(); c.execute('SELECT version()'); print(c.fetchone()[0], flush=True)"
)
HOLD = QUERY + ";import sys; print('ready', flush=True); sys.stdin.readline()"


def environment(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_VAR_DIR=str(var_dir))
    return env


def holder(var_dir: Path) -> subprocess.Popen:
    """A process that uses the embedded server until its stdin closes."""
    process = subprocess.Popen(  # noqa: S603 - our own interpreter
        [sys.executable, "-c", HOLD],
        cwd=ROOT,
        env=environment(var_dir),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in process.stdout:
        if line.strip() == "ready":
            return process
    raise AssertionError("the holder never connected")


def postmasters(var_dir: Path) -> list[psutil.Process]:
    data = str(local_db.data_dir(var_dir))
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        if process.info["name"] == "postgres" and data in (process.info["cmdline"] or []):
            found.append(process)
    return found


def down(var_dir: Path, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while postmasters(var_dir):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def var_dir(tmp_path):
    path = tmp_path / "var"
    yield path
    local_db.stop(path)  # whatever a failing case left behind


def test_it_starts_a_server_of_its_own_and_stops_it_when_the_process_exits(var_dir):
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", QUERY],
        cwd=ROOT,
        env=environment(var_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("PostgreSQL ")
    assert (local_db.data_dir(var_dir) / "PG_VERSION").exists()
    assert down(var_dir), "the embedded server outlived the only process that used it"


def test_it_is_shared_while_two_processes_use_it_and_stops_after_the_last(var_dir):
    first = holder(var_dir)
    second = holder(var_dir)
    assert len(postmasters(var_dir)) == 1, "never two servers on one data directory"
    first.stdin.close()
    first.wait(30)
    time.sleep(0.5)
    assert postmasters(var_dir), "stopped while another process still used it"
    second.stdin.close()
    second.wait(30)
    assert down(var_dir)


def test_a_killed_process_does_not_keep_the_server_alive(var_dir):
    killed = holder(var_dir)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait(30)
    assert postmasters(var_dir), "SIGKILL gives no chance to stop it"
    # The next process to exit finds the dead one's lease stale and stops the server.
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", QUERY],
        cwd=ROOT,
        env=environment(var_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert down(var_dir)
