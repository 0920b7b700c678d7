"""The simulator's state on a jumped clock: lifecycle, schedules, controls, data, faults.

`advance()` moves simulated time deterministically, so none of these tests waits.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.simulator.runs import NEW_SECONDS, QUEUED_SECONDS
from bot.simulator.state import FIRST_LIVE_SNAPSHOT_ID, SimulatorState, UnknownId
from bot.simulator.tokens import DEFAULT_TOKEN
from bot.skyvia.models import SnapshotState

S = SnapshotState


@pytest.fixture
def state() -> SimulatorState:
    # speed 1e-6: the wall clock barely moves it; only advance() does
    return SimulatorState(speed=1e-6, tokens=[DEFAULT_TOKEN], schedule_interval=None)


def states_of(state: SimulatorState, snapshot_id: int) -> SnapshotState:
    return state.snapshot(snapshot_id).state_at(state.now())


def test_default_data(state: SimulatorState) -> None:
    assert state.workspaces[123].name == "Operations"
    assert state.workspaces[124].name == "Finance sandbox"
    assert len(state.backups) >= 12
    assert state.backups[456].name == "Nightly CRM" and state.backups[456].workspace_id == 123
    names = [b.name or "" for b in state.backups.values()]
    assert "<!channel> & co" in names
    for char in ("<", ">", "&", "*", "_"):
        assert any(char in n for n in names), char
    assert any(ord(c) > 0xFFFF for n in names for c in n), "an emoji"
    scheduled = [b.scheduled for b in state.backups.values()]
    assert any(scheduled) and not all(scheduled)

    finished = [s for s in state.snapshots.values() if s.is_finished(state.now())]
    failed = [s for s in finished if s.outcome == S.FAILED]
    assert failed and len(failed) < len(finished)
    assert all(s.log and s.log.startswith("Error:") and "\n" in s.log for s in failed)
    assert any("INVALID_SESSION_ID on object Account" in (s.log or "") for s in failed)


def test_default_data_is_reproducible() -> None:
    one, two = SimulatorState(tokens=["t"]), SimulatorState(tokens=["t"])
    assert [(s.id, s.outcome, s.log) for s in one.snapshots.values()] == [
        (s.id, s.outcome, s.log) for s in two.snapshots.values()
    ]


def test_run_moves_through_its_states(state: SimulatorState) -> None:
    run = state.start_snapshot(461)
    assert run.id >= FIRST_LIVE_SNAPSHOT_ID and not run.run_by_schedule
    assert states_of(state, run.id) == S.NEW
    state.advance(NEW_SECONDS)
    assert states_of(state, run.id) == S.QUEUED
    state.advance(QUEUED_SECONDS)
    assert states_of(state, run.id) == S.RUNNING
    assert state.active_snapshot(461) is run
    assert run not in state.finished_snapshots(state.backups[461])
    state.advance(state.backups[461].run_seconds)
    assert states_of(state, run.id) == S.SUCCEEDED
    assert state.active_snapshot(461) is None
    assert state.finished_snapshots(state.backups[461]) == [run]


def test_speed_scales_the_clock() -> None:
    state = SimulatorState(speed=1.0, tokens=["t"])
    before = state.clock.elapsed()
    state.set_speed(1000)
    state.advance(10)
    assert state.clock.elapsed() - before >= 10
    with pytest.raises(ValueError, match="positive"):
        state.set_speed(0)
    with pytest.raises(ValueError, match="backwards"):
        state.advance(-1)


def test_fail_next_fails_the_next_run_only(state: SimulatorState) -> None:
    state.fail_next(456, "Error: X\nsecond line")
    failed, ok = state.start_snapshot(456), state.start_snapshot(456)
    state.advance(3600)
    assert (failed.outcome, failed.log) == (S.FAILED, "Error: X\nsecond line")
    assert failed.error_rows > 0
    assert ok.outcome == S.SUCCEEDED and ok.log and "completed successfully" in ok.log


def test_finish_now(state: SimulatorState) -> None:
    run = state.start_snapshot(456)
    state.finish_snapshot(run.id, "Failed")
    assert states_of(state, run.id) == S.FAILED
    assert run.started <= run.ended and run.log and run.log.startswith("Error:")
    state.finish_snapshot(run.id, "Succeeded")  # already finished: unchanged
    assert states_of(state, run.id) == S.FAILED
    with pytest.raises(ValueError, match="Succeeded, Failed or Canceled"):
        state.finish_snapshot(state.start_snapshot(456).id, "Running")
    with pytest.raises(UnknownId):
        state.finish_snapshot(1)


def test_a_held_run_has_been_going_since_then_until_it_is_finished(
    state: SimulatorState,
) -> None:
    run = state.hold_running(state.start_snapshot(456).id, timedelta(hours=2))
    state.advance(3 * 3600)  # a day's run, not the backup's 20 s
    active = state.active_snapshot(456)
    assert active is run and states_of(state, run.id) == S.RUNNING
    assert active.active_dto(state.now())["duration"] >= 5 * 3600 - 10
    state.finish_snapshot(run.id)
    assert state.active_snapshot(456) is None and states_of(state, run.id) == S.SUCCEEDED


def test_finish_all_running(state: SimulatorState) -> None:
    runs = [state.start_snapshot(b) for b in (456, 457, 501)]
    assert state.finish_all_running("Canceled") == 3
    assert {states_of(state, r.id) for r in runs} == {S.CANCELED}
    assert state.finish_all_running() == 0


def test_run_by_schedule_now(state: SimulatorState) -> None:
    run = state.run_scheduled_now(458, fail=True, log="Error: boom\nat line 2")
    state.advance(3600)
    assert run.run_by_schedule and run.outcome == S.FAILED and run.log == "Error: boom\nat line 2"


def test_scheduled_backups_run_by_themselves() -> None:
    state = SimulatorState(speed=1e-6, tokens=["t"], schedule_interval=600)
    scheduled = [b.id for b in state.backups.values() if b.scheduled]
    unscheduled = [b.id for b in state.backups.values() if not b.scheduled]
    counts = {b: len(state.snapshots_of(b)) for b in state.backups}

    state.advance(1250)
    for backup_id in scheduled:
        new = state.snapshots_of(backup_id)[counts[backup_id] :]
        assert len(new) == 2 and all(s.run_by_schedule for s in new)
    for backup_id in unscheduled:
        assert len(state.snapshots_of(backup_id)) == counts[backup_id]

    state.set_schedule(123, 456, active=False)
    before = len(state.snapshots_of(456))
    state.advance(6000)
    assert len(state.snapshots_of(456)) == before


def test_schedule_interval_can_be_disabled() -> None:
    state = SimulatorState(speed=1e-6, tokens=["t"], schedule_interval=60)
    state.set_schedule_interval(None)
    before = len(state.snapshots)
    state.advance(10_000)
    state.snapshots_of(456)
    assert len(state.snapshots) == before


def test_long_jumps_create_a_bounded_catch_up() -> None:
    state = SimulatorState(speed=1e-6, tokens=["t"], schedule_interval=1)
    before = len(state.snapshots_of(456))
    state.advance(1_000_000)
    assert 0 < len(state.snapshots_of(456)) - before <= 20


def test_finished_snapshot_filters(state: SimulatorState) -> None:
    backup = state.backups[456]
    every = state.finished_snapshots(backup)
    assert [s.started for s in every] == sorted(s.started for s in every)
    failed = state.finished_snapshots(backup, failed=True)
    assert failed and {s.outcome for s in failed} == {S.FAILED}
    assert state.finished_snapshots(backup, failed=False) == every
    middle = every[len(every) // 2].started
    assert state.finished_snapshots(backup, start_date=middle) == every[len(every) // 2 :]
    assert state.finished_snapshots(backup, end_date=middle) == every[: len(every) // 2 + 1]
    by_id = state.finished_snapshots(backup, sort_by="snapshotId", descending=True)
    assert [s.id for s in by_id] == sorted((s.id for s in every), reverse=True)


def test_tokens(state: SimulatorState) -> None:
    assert state.token == DEFAULT_TOKEN
    assert state.token_allows(DEFAULT_TOKEN, 124)
    assert not state.token_allows(None, None) and not state.token_allows("x", None)
    state.add_token("scoped", [124])
    assert state.token_allows("scoped", 124) and not state.token_allows("scoped", 123)
    assert [w.id for w in state.visible_workspaces("scoped")] == [124]


def test_tokens_default_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYVIA_API_TOKEN", "from-env")
    assert SimulatorState().token == "from-env"
    monkeypatch.delenv("SKYVIA_API_TOKEN")
    assert SimulatorState().token == DEFAULT_TOKEN
    assert SimulatorState(tokens=["given"]).token == "given"


def test_bulk_data(state: SimulatorState) -> None:
    ids = state.add_bulk(20, 150, scheduled_every=3)
    assert len(ids) == 20 and len(set(ids) & {123, 124, 125}) == 0
    assert all(len(state.backups_by_workspace[w]) == 150 for w in ids)
    assert len(state.backups) >= 3000
    assert sum(b.scheduled for w in ids for b in state.backups_by_workspace[w]) == 20 * 50


def test_seed_replaces_the_defaults() -> None:
    seed = {
        "workspaces": [
            {"id": 7, "name": "Seeded", "backups": [{"id": 70, "name": "Only", "history": 3}]}
        ]
    }
    state = SimulatorState(tokens=["t"], seed=seed)
    assert list(state.workspaces) == [7] and list(state.backups) == [70]
    assert len(state.snapshots_of(70)) == 3
    with pytest.raises(ValueError):
        SimulatorState(tokens=["t"], seed={"workspaces": [{"id": "x"}]})


def test_reset_restores_the_start(state: SimulatorState) -> None:
    original = {b: len(state.snapshots_of(b)) for b in state.backups}
    state.add_bulk(2, 2)
    state.add_token("extra")
    state.start_snapshot(456)
    state.inject_errors(500)
    state.record_call("GET /workspaces")
    state.reset()
    assert {b: len(state.snapshots_of(b)) for b in state.backups} == original
    assert "extra" not in state.tokens and state.call_counts() == {}
    assert state.faults.errors == []


def test_fault_rules(state: SimulatorState) -> None:
    state.inject_errors(503, count=2, endpoint="GET /workspaces")
    plans = [state.faults.plan("GET /workspaces") for _ in range(3)]
    assert [p.error.status if p.error else None for p in plans] == [503, 503, None]
    assert state.faults.plan("GET /workspaces/{workspaceId}").error is None

    state.inject_errors(429, rate=0.5)
    hits = [state.faults.plan("GET /workspaces").error for _ in range(400)]
    assert 100 < sum(1 for h in hits if h) < 300
    assert all(h.retry_after == 1 for h in hits if h)
    state.clear_faults()

    state.add_latency(0.5, count=1)
    state.add_latency(0.25, endpoint="GET /workspaces")
    assert state.faults.plan("GET /workspaces").latency == 0.75
    assert state.faults.plan("GET /workspaces").latency == 0.25
    assert state.faults.plan("POST /x").latency == 0.0
    with pytest.raises(ValueError):
        state.inject_errors(200)
