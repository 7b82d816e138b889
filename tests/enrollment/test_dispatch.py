"""The services queue tasks by name (``enrollment.dispatch``): the names are the tasks', nothing in the app imports in
a circle, and the services never import ``enrollment.tasks``."""

import ast
from pathlib import Path

from celery import current_app

from enrollment import dispatch, tasks

APP = Path(dispatch.__file__).parent


def test_the_queued_names_are_the_tasks():
    assert tasks.signin_code_task.name == dispatch.SIGNIN_CODE_TASK
    assert tasks.invitation_chunk_task.name == dispatch.INVITATION_CHUNK_TASK
    assert tasks.fix_instructions_chunk_task.name == dispatch.FIX_INSTRUCTIONS_CHUNK_TASK


def test_without_eager_the_task_is_sent_by_name(settings, monkeypatch):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    sent = []
    monkeypatch.setattr(current_app, "send_task", lambda name, args: sent.append((name, args)))
    dispatch.enqueue(dispatch.SIGNIN_CODE_TASK, "sealed")
    assert sent == [("enrollment.tasks.signin_code_task", ["sealed"])]


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """{module: the enrollment modules it imports}, read from the source (migrations aside)."""
    modules = {_module_name(path): path for path in APP.rglob("*.py") if "migrations" not in path.parts}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:  # ``from package import module`` names the module
                found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                          for alias in node.names}
        graph[name] = {module for module in found if module in modules and module != name}
    return graph


def test_no_module_of_the_app_imports_in_a_circle():
    graph = _imports()
    done, path = set(), []

    def visit(module):
        if module in path:
            raise AssertionError(" → ".join([*path[path.index(module):], module]))
        if module in done:
            return
        path.append(module)
        for imported in sorted(graph[module]):
            visit(imported)
        path.pop()
        done.add(module)

    for module in sorted(graph):
        visit(module)
    assert not any("enrollment.tasks" in graph[module] for module in graph if module.startswith("enrollment.services"))
