"""Keeps functions small enough to read in one sitting, and points at long modules.

Fails (exit 1) listing every function over MAX_FUNCTION_LINES lines (decorators and docstring
included) in the shipped packages. A module over MAX_MODULE_LINES lines is only a warning: a
module is split by concept, never to fit a count (a long module that holds one idea beats
satellites named after where the cut fell), so its length is a prompt to look, not a rule.
Test doubles that mirror a whole foreign API and Alembic migrations are exempt: their length
follows what they stand in for, not a design choice.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "handlers", "storage")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
EXEMPT_MODULES = {
    "bot/devtools/slack_standin.py",  # a stand-in for Slack's Web API, one method per endpoint
    "bot/devtools/slack_requests.py",  # Slack's signed request shapes, one builder per kind
}
EXEMPT_DIRS = ("storage/migrations/versions/",)


def sources() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def exempt(relative: str) -> bool:
    return relative in EXEMPT_MODULES or relative.startswith(EXEMPT_DIRS)


def problems(path: Path) -> Iterator[str]:
    relative = path.relative_to(ROOT).as_posix()
    text = path.read_text(encoding="utf-8")
    if exempt(relative):
        return
    for node in ast.walk(ast.parse(text, filename=relative)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = (node.end_lineno or node.lineno) - first + 1
            if length > MAX_FUNCTION_LINES:
                yield (
                    f"{relative}:{node.lineno}: {node.name} is {length} lines"
                    f" (max {MAX_FUNCTION_LINES})"
                )


def long_modules() -> Iterator[str]:
    for path in sources():
        relative = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if not exempt(relative) and lines > MAX_MODULE_LINES:
            yield f"warning: {relative}: {lines} lines (over {MAX_MODULE_LINES}: one concept?)"


def main() -> int:
    for warning in long_modules():
        print(warning)
    found = [problem for path in sources() for problem in problems(path)]
    for problem in found:
        print(problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
