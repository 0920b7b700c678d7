"""`sim stale` on the console's one clock: the last good snapshot must look two days old there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.console.sim_verbs import simulator_command
from bot.simulator.state import SimulatorState

BACKUP = 456


def _last_ended(state: SimulatorState) -> datetime:
    now = state.now()
    return max(s.ended for s in state.backups[BACKUP].snapshots if s.ended <= now)


def test_sim_stale_ages_the_last_good_snapshot_two_real_days_on_a_sped_up_console() -> None:
    state = SimulatorState(speed=20.0, tokens=["t"])
    state.real_time_dates = True
    simulator_command(state, ["stale", str(BACKUP)])
    shown = state.clock.to_real(_last_ended(state))
    assert datetime.now(UTC) - shown >= timedelta(days=2)


def test_sim_stale_ages_two_simulated_days_without_the_console_clock() -> None:
    state = SimulatorState(speed=20.0, tokens=["t"])
    before = _last_ended(state)
    simulator_command(state, ["stale", str(BACKUP)])
    assert before - _last_ended(state) == timedelta(days=2)
