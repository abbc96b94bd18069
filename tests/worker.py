"""A real Celery worker process for tests, on the configured broker and the test database.

Tests that use it need ``transactional_db`` (the worker is another process and only sees
committed rows). In CI the broker is Redis; locally it is kombu's filesystem transport. The database is
PostgreSQL: the CI server, or the embedded one under var/.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def worker_database_url() -> str:
    """The URL of the database pytest-django created, for the worker's DATABASE_URL."""
    conf = connection.settings_dict
    auth = conf["USER"] or ""
    if conf["PASSWORD"]:
        auth += f":{conf['PASSWORD']}"
    host = quote(conf["HOST"] or "127.0.0.1", safe="")  # the embedded server's socket dir
    port = conf["PORT"] or 5432
    return f"postgres://{auth}@{host}:{port}/{conf['NAME']}"


@contextmanager
def celery_worker(
    *,
    queues: str = "celery",
    extra_env: dict[str, str] | None = None,
    ready_timeout: float = 60.0,
    name: str = "",
) -> Iterator[subprocess.Popen]:
    """Start ``celery -A portal worker`` and wait until it reports ready; stop it after.
    ``name`` tells apart several workers started by one process (node name and log file)."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": worker_database_url(),
            "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
            "PORTAL_VAR_DIR": str(settings.VAR_DIR),
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra_env or {})
    node = f"{os.getpid()}-{name}" if name else str(os.getpid())
    log_path = Path(settings.VAR_DIR) / f"test-worker-{node}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = log_path.open("w+")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "portal",
            "worker",
            "-l",
            "info",
            "--concurrency",
            "1",
            "--pool",
            "prefork",
            "-Q",
            queues,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-n",
            f"test-{node}@%h",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + ready_timeout
        while "ready." not in log_path.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Celery worker did not start:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.2)
        proc.log_path = log_path  # type: ignore[attr-defined]
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.2, message: str = ""):
    """Poll ``predicate`` until it returns something truthy; fail with ``message`` on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(message or "condition not met in time")
