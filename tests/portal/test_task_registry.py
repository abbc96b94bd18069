"""Every Celery task the code sends is registered with the app as a real worker loads it
(autodiscovery in a fresh process), not merely because a test imported its module first.

The names sent are collected from the source: the task objects passed to
``enqueue_on_commit`` or called with ``.delay`` / ``.apply_async`` / ``.s`` / ``.si``, the
names given to ``send_task``, and the beat schedule in the settings."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

from celery import Task
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("portal", "devices", "enrollment", "dispatch", "billing")
SEND_METHODS = {"delay", "apply_async", "s", "si", "signature"}

# What a worker does at start-up: set Django up, load the app, run autodiscovery.
WORKER_LOAD = """
import json, django
django.setup()
from portal.celery import app
app.loader.import_default_modules()
print(json.dumps(sorted(app.tasks)))
"""


def _source_files() -> list[Path]:
    return [
        path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
        if "migrations" not in path.parts
    ]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST, module: str) -> dict[str, tuple[str, str | None]]:
    """Local name → (module, attribute or None for a module), from every import in the file
    (function-level ones too: tasks are often imported late)."""
    names: dict[str, tuple[str, str | None]] = {}
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = node.module or ""
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                source = f"{base}.{source}" if source else base
            for alias in node.names:
                names[alias.asname or alias.name] = (source, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (alias.name, None)
    return names


def _resolve(expr: ast.expr, module: str, imports) -> object | None:
    """The object ``expr`` (a name or ``module_alias.name``) stands for, or None when it is a
    parameter or local variable (the generic helpers that forward a task they were given)."""
    if isinstance(expr, ast.Name):
        if expr.id in imports:
            source, attr = imports[expr.id]
            target = importlib.import_module(source)
            return getattr(target, attr, None) if attr else target
        return getattr(importlib.import_module(module), expr.id, None)
    if isinstance(expr, ast.Attribute):
        owner = _resolve(expr.value, module, imports)
        return getattr(owner, expr.attr, None) if owner is not None else None
    return None


def sent_task_names() -> dict[str, str]:
    """Task name → where it is sent from."""
    sent: dict[str, str] = {}
    for path in _source_files():
        tree = ast.parse(path.read_text(), filename=str(path))
        module = _module_name(path)
        imports = _imports(tree, module)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            func = node.func
            candidates: list[ast.expr] = []
            if isinstance(func, ast.Name) and func.id == "enqueue_on_commit" and node.args:
                candidates.append(node.args[0])
            elif isinstance(func, ast.Attribute) and func.attr in SEND_METHODS:
                candidates.append(func.value)
            elif isinstance(func, ast.Attribute) and func.attr == "send_task" and node.args:
                name = node.args[0]
                if isinstance(name, ast.Constant) and isinstance(name.value, str):
                    sent[name.value] = where
                continue
            for expr in candidates:
                task = _resolve(expr, module, imports)
                if isinstance(task, Task):
                    sent[task.name] = where
    for entry, spec in settings.CELERY_BEAT_SCHEDULE.items():
        sent[spec["task"]] = f"CELERY_BEAT_SCHEDULE[{entry!r}]"
    return sent


def worker_task_names() -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", WORKER_LOAD],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_it_finds_the_tasks_the_code_sends():
    sent = sent_task_names()
    # The scan itself works: tasks sent in each way are found.
    assert {
        "interconnection.notify_transition",  # enqueue_on_commit, imported in a function
        "interconnection.notify_message",
        "enrollment.reevaluate_program",  # enqueue_on_commit, module import
        "dispatch.activate_due_events",  # beat schedule
    } <= set(sent)


def test_it_registers_every_task_the_code_sends_as_a_worker_loads_them():
    sent = sent_task_names()
    registered = worker_task_names()
    missing = {name: where for name, where in sent.items() if name not in registered}
    assert not missing, f"sent but unknown to a worker (it would discard them): {missing}"
