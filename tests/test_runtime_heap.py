"""`settle_heap`: start-up objects leave the collector's reach and its passes come less often.

Run in a child interpreter: freezing this test process's heap would change every later test.
"""

from __future__ import annotations

import json
import subprocess
import sys

from bot.devtools.child_process import REPO_ROOT
from bot.runtime import GC_THRESHOLDS

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
