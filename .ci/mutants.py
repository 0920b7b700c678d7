"""Mutation check: flip one comparison, boolean or boundary at a time and run the module's tests.

    python .ci/mutants.py bot/slack/delivery/pacing.py tests/slack/test_pacing.py
    python .ci/mutants.py storage/repositories/outbox.py tests/storage/test_outbox.py \
        tests/slack/test_outbox_sender.py --jobs 2

A mutant is killed when the tests fail on it. Each mutant runs in its own copy of the
repository (one per job, under a temporary directory), so the working tree is never touched.
The operators are the ones that hide untested promises: `<`/`<=`, `>`/`>=`, `==`/`!=`,
`is`/`is not`, `in`/`not in`, `and`/`or`, dropping a `not`, an integer `n` to `n + 1`, and
`+`/`-`. Code under `if TYPE_CHECKING:` and logging calls are not mutated. Prints the killed
share and every survivor with its line, so each can be read: a survivor is an untested
branch or an equivalent mutant.
"""

from __future__ import annotations

import argparse
import ast
import concurrent.futures
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_FLIPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}


@dataclass(frozen=True)
class Mutant:
    index: int
    line: int
    what: str


def _skipped(tree: ast.Module) -> set[int]:
    """Ids of nodes not worth mutating: TYPE_CHECKING blocks, log calls, docstrings."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.If)
            and isinstance(node.test, ast.Name)
            and node.test.id == "TYPE_CHECKING"
        ):
            skip.update(id(n) for n in ast.walk(node))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _LOG_METHODS
        ):
            skip.update(id(n) for n in ast.walk(node))
    return skip


def _points(tree: ast.Module) -> list[tuple[ast.AST, int, str]]:
    """Every (node, variant, description) a mutant can be made from, in a stable order."""
    skip = _skipped(tree)
    points: list[tuple[ast.AST, int, str]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _FLIPS:
                    flipped = _FLIPS[type(op)].__name__
                    points.append((node, i, f"{type(op).__name__} -> {flipped}"))
        elif isinstance(node, ast.BoolOp):
            points.append((node, 0, "and <-> or"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            points.append((node, 0, "drop not"))
        elif (
            isinstance(node, ast.Constant)
            and type(node.value) is int
            and not isinstance(node.value, bool)
        ):
            points.append((node, 0, f"{node.value} -> {node.value + 1}"))
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
            points.append((node, 0, "+ <-> -"))
    return points


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST, variant: int) -> None:
        self.target, self.variant = target, variant

    def visit(self, node: ast.AST) -> ast.AST:
        if node is not self.target:
            return self.generic_visit(node)
        if isinstance(node, ast.Compare):
            node.ops[self.variant] = _FLIPS[type(node.ops[self.variant])]()
        elif isinstance(node, ast.BoolOp):
            node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.Constant):
            node.value = node.value + 1
        elif isinstance(node, ast.BinOp):
            node.op = ast.Sub() if isinstance(node.op, ast.Add) else ast.Add()
        return node


def mutated_source(source: str, index: int) -> str:
    tree = ast.parse(source)
    node, variant, _ = _points(tree)[index]
    new = _Apply(node, variant).visit(tree)
    return ast.unparse(ast.fix_missing_locations(new))


def _copy_repo(into: Path) -> Path:
    target = into / "repo"
    ignore = shutil.ignore_patterns(
        ".git", ".venv", "*.egg-info", ".mypy_cache", ".ruff_cache", "__pycache__", "mutants"
    )
    shutil.copytree(REPO, target, ignore=ignore)
    return target


def _run(repo: Path, module: str, source: str, tests: list[str], timeout: float) -> bool:
    """True when the tests fail (the mutant is killed)."""
    (repo / module).write_text(source)
    env = {**os.environ, "PYTHONPATH": str(repo), "PYTHONDONTWRITEBYTECODE": "1"}
    try:
        result = subprocess.run(  # noqa: S603 - our own interpreter and test paths
            [sys.executable, "-m", "pytest", "-q", "-x", "-n0", "-p", "no:cacheprovider", *tests],
            cwd=repo,
            env=env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return True  # a mutant that hangs the tests is caught by them, if slowly
    return result.returncode != 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("module")
    parser.add_argument("tests", nargs="+")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=180.0)
    args = parser.parse_args()
    original = (REPO / args.module).read_text()
    points = _points(ast.parse(original))
    mutants = [Mutant(i, getattr(p[0], "lineno", 0), p[2]) for i, p in enumerate(points)]
    with tempfile.TemporaryDirectory(prefix="mutants-") as tmp:
        copies = [_copy_repo(Path(tmp) / str(job)) for job in range(args.jobs)]
        baseline = _run(copies[0], args.module, original, args.tests, args.timeout)
        if baseline:
            print("the tests fail on the unmutated module: nothing to measure", file=sys.stderr)
            return 2
        free = list(copies)
        survivors: list[Mutant] = []
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            pending: dict[concurrent.futures.Future[bool], tuple[Mutant, Path]] = {}
            queue = list(mutants)
            while queue or pending:
                while queue and free:
                    mutant, repo = queue.pop(0), free.pop()
                    source = mutated_source(original, mutant.index)
                    future = pool.submit(_run, repo, args.module, source, args.tests, args.timeout)
                    pending[future] = (mutant, repo)
                done, _ = concurrent.futures.wait(
                    pending, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    mutant, repo = pending.pop(future)
                    free.append(repo)
                    if not future.result():
                        survivors.append(mutant)
    killed = len(mutants) - len(survivors)
    share = 100.0 * killed / len(mutants) if mutants else 100.0
    print(f"{args.module}: {killed}/{len(mutants)} mutants killed ({share:.0f} %)")
    for mutant in sorted(survivors, key=lambda m: m.line):
        print(f"  survived: line {mutant.line}: {mutant.what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
