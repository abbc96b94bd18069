"""Settings come from the environment and refuse values they cannot use, at start-up.

Each case starts a fresh interpreter, because settings are read once per process.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LONG_KEY = secrets.token_urlsafe(48)  # 64 characters
# Variables this test sets; anything the outer environment has for them (CI's DATABASE_URL,
# say) is removed so each case sees exactly what it names.
CONTROLLED = (
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "CELERY_BROKER_URL",
    "CACHE_URL",
    "TIME_ZONE",
    "DB_CONN_MAX_AGE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_PRELOAD",
    "TRUST_X_FORWARDED_PROTO",
    "DISPATCH_RESTORE_STAGGER_MINUTES",
    "DISPATCH_V2H_PREMISE_LOAD_KW",
    "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests for their own process only
)


def run_django(
    args: list[str], env: dict[str, str], tmp_path: Path, *, debug_default: str | None = "true"
) -> subprocess.CompletedProcess:
    """A fresh interpreter with exactly ``env``; DEBUG on (as the Makefile's targets run)
    unless the case names it or ``debug_default`` is None (a bare production start)."""
    base = {k: v for k, v in os.environ.items() if k not in CONTROLLED}
    base.update(DJANGO_SETTINGS_MODULE="portal.settings", PORTAL_VAR_DIR=str(tmp_path / "var"))
    if debug_default is not None:
        base["DEBUG"] = debug_default
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


SETUP = ["-c", "import django; django.setup()"]


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"DATABASE_URL": "sqlite:///x.sqlite3"}, "DATABASE_URL"),
        ({"CELERY_BROKER_URL": "kafka://x"}, "CELERY_BROKER_URL"),
        ({"CACHE_URL": "memcached://x"}, "CACHE_URL"),
        ({"DEBUG": "false", "ALLOWED_HOSTS": "portal.example.com"}, "SECRET_KEY"),
        (
            {"DEBUG": "false", "SECRET_KEY": "too-short", "ALLOWED_HOSTS": "portal.example.com"},
            "SECRET_KEY",
        ),
        ({"DEBUG": "false", "SECRET_KEY": LONG_KEY}, "ALLOWED_HOSTS"),
        ({"TIME_ZONE": "Mars/Base"}, "TIME_ZONE"),
        ({"DB_CONN_MAX_AGE": "abc"}, "DB_CONN_MAX_AGE"),
        ({"DB_CONN_MAX_AGE": "-5"}, "DB_CONN_MAX_AGE"),
        ({"DISPATCH_RESTORE_STAGGER_MINUTES": "soon"}, "DISPATCH_RESTORE_STAGGER_MINUTES"),
        ({"DISPATCH_RESTORE_STAGGER_MINUTES": "-1"}, "DISPATCH_RESTORE_STAGGER_MINUTES"),
        ({"DISPATCH_V2H_PREMISE_LOAD_KW": "lots"}, "DISPATCH_V2H_PREMISE_LOAD_KW"),
        ({"DISPATCH_V2H_PREMISE_LOAD_KW": "-0.5"}, "DISPATCH_V2H_PREMISE_LOAD_KW"),
        ({"DISPATCH_V2H_PREMISE_LOAD_KW": "nan"}, "DISPATCH_V2H_PREMISE_LOAD_KW"),
    ],
    ids=lambda value: value if isinstance(value, str) else ",".join(f"{k}" for k in value),
)
def test_it_refuses_to_start_with_a_bad_value(env, variable, tmp_path):
    result = run_django(SETUP, env, tmp_path)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    last_line = result.stderr.strip().splitlines()[-1]
    assert variable in last_line, result.stderr


def test_it_starts_in_development_with_nothing_but_debug(tmp_path):
    result = run_django(SETUP, {}, tmp_path)
    assert result.returncode == 0, result.stderr


def test_with_no_environment_at_all_it_is_production_and_asks_for_its_secrets(tmp_path):
    result = run_django(SETUP, {}, tmp_path, debug_default=None)
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr.strip().splitlines()[-1], result.stderr


def test_production_sends_a_content_security_policy_and_hides_the_api_docs(tmp_path):
    env = {"DEBUG": "false", "SECRET_KEY": LONG_KEY, "ALLOWED_HOSTS": "portal.example.com"}
    probe = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DEBUG, settings.API_DOCS_PUBLIC, "
        "settings.CONTENT_SECURITY_POLICY['DIRECTIVES']['script-src'])"
    )
    result = run_django(["-c", probe], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "[\"'self'\"]"]


def test_it_passes_the_deployment_checks_with_production_settings(tmp_path):
    env = {
        "DEBUG": "false",
        "SECRET_KEY": LONG_KEY,
        "ALLOWED_HOSTS": "portal.example.com",
    }
    result = run_django(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env, tmp_path
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
