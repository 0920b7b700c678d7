"""Failed runs pinned to the wall clock, for scanner tests that hinge on exact times.

The test simulator runs 50 times faster than the wall clock, so its runs end "in the future" as
the bot sees it, which hides every rule about what ended before what. A pinned run has the start
and end the test chose, on the bot's clock; the simulator (ahead) lists it as finished at once.
Creating and pinning happen without an await, so no scan can see the run in between.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.simulator import RunningSimulator
from bot.simulator.records import SimSnapshot


def wall_now() -> datetime:
    return datetime.now(UTC)


def pinned_failure(
    sim: RunningSimulator, backup_id: int, *, started: datetime, ended: datetime
) -> SimSnapshot:
    """A failed run of `backup_id` that started and ended at these wall-clock times."""
    assert started <= ended <= sim.state.now(), "the simulator must list it as finished"
    snapshot = sim.state.run_scheduled_now(backup_id, fail=True, log="Error: pinned failure")
    snapshot.created = snapshot.queued = started - timedelta(seconds=1)
    snapshot.started = started
    snapshot.ended = ended
    return snapshot
