"""`settle_heap`: start-up objects leave the collector's reach and its passes come less often.

Run in a child interpreter: freezing this test process's heap would change every later test.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bot.devtools.child_process import REPO_ROOT
from bot.runtime import GC_THRESHOLDS, MALLOC_ARENAS

PROBE = """
import gc, json
import bot.app, bot.container, bot.runtime
tracked = len(gc.get_objects())
before = gc.get_threshold()
bot.runtime.settle_heap()
print(json.dumps({
    "tracked": tracked,
    "frozen": gc.get_freeze_count(),
    "left": len(gc.get_objects()),
    "before": before,
    "after": gc.get_threshold(),
}))
"""


def test_settling_freezes_the_start_up_heap_and_raises_the_thresholds() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert figures["before"] == [700, 10, 10]
    assert figures["after"] == list(GC_THRESHOLDS)
    assert GC_THRESHOLDS[0] > 700 and GC_THRESHOLDS[2] > 10
    # Nearly everything importing the bot built is frozen; what the collector still scans is
    # what the probe itself made since.
    assert figures["frozen"] >= 0.9 * figures["tracked"]
    assert figures["left"] < 0.05 * figures["tracked"]


ARENAS = """
import ctypes, sys, threading
import bot.runtime
if sys.argv[1] == "limited":
    assert bot.runtime.limit_malloc_arenas()
held, ready, done = [], threading.Barrier(9), threading.Event()

def allocate() -> None:
    held.append([bytes(4096) for _ in range(200)])  # malloc'd, in this thread's arena
    ready.wait()
    done.wait()

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
ready.wait()
ctypes.CDLL("libc.so.6").malloc_stats()  # one "Arena n:" block per arena, on stderr
done.set()
"""


def arenas(mode: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", ARENAS, mode], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    return sum(1 for line in done.stderr.splitlines() if line.startswith("Arena "))


def test_threads_share_a_few_malloc_arenas_once_limited() -> None:
    # Eight allocating threads (aiosqlite gives each pooled connection one) get arenas of their
    # own by default; limited, they share `MALLOC_ARENAS`, so the bot's RSS does not hold
    # memory one thread freed and another cannot reuse.
    assert arenas("default") > MALLOC_ARENAS
    assert arenas("limited") <= MALLOC_ARENAS
