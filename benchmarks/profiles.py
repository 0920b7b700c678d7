"""Reads py-spy's collapsed stacks (`--format raw`) into a short list of the hottest frames."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

_IDLE = ("select (selectors.py", "_run_once (asyncio/base_events.py")


def hottest(path: Path, limit: int = 10) -> list[str]:
    """The frames most often on top of the stack (self time), as '12.3%  frame' lines.

    Frames inside the standard library's event-loop wait are reported as one 'idle' line, so
    what remains is where the bot spent its CPU.
    """
    self_time: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        top = frames[-1]
        if any(marker in top for marker in _IDLE):
            top = "idle (event loop waiting)"
        self_time[_short(top)] += int(count)
        total += int(count)
    if not total:
        return ["(no samples)"]
    return [f"{100 * n / total:5.1f}%  {frame}" for frame, n in self_time.most_common(limit)]


def _short(frame: str) -> str:
    # "func (path/to/site-packages/pkg/mod.py:123)" -> "func (pkg/mod.py:123)"
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    for marker in ("site-packages/", "/work/main/", "python3.11/"):
        if marker in where:
            where = where.split(marker, 1)[1]
    return f"{name} ({where})" if where else name
