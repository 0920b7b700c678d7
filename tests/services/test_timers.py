"""Timers: set, fired once on a settable clock, retried without redoing what was done."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import pytest

from bot.services.alert_settings import AlertSettings
from bot.services.announcements import Channel, MuteEnded, Outcome, TimerEnded
from bot.services.bindings import BindingService
from bot.services.schedules import ScheduleService
from bot.services.timers import BATCH, FireRound, TimerKind, TimerService
from bot.services.token_policy import TokenPolicy
from bot.simulator import RunningSimulator
from bot.skyvia.client import SkyviaClient
from storage.repositories import BindingRepository, TimerRepository
from tests.services.kit import CHANNEL, TEAM, Kit

ENABLE = "POST /workspaces/{workspaceId}/backups/{backupId}/schedule/enable"


@dataclass
class _Announcer:
    """Answers with the queued outcomes (then SENT) and records each end it was asked to say,
    and the channel it was owed to (`where`, in the same order)."""

    outcomes: list[Outcome] = field(default_factory=list)
    said: list[tuple[str, TimerEnded]] = field(default_factory=list)
    where: list[str] = field(default_factory=list)
    stale_after: timedelta = timedelta(seconds=8)

    def _next(self) -> Outcome:
        return self.outcomes.pop(0) if self.outcomes else Outcome.SENT

    async def owe(self, news: TimerEnded, to: Channel) -> Outcome:
        self.said.append(("mute" if isinstance(news, MuteEnded) else "window", news))
        self.where.append(to.channel_id)
        return self._next()


def _service(
    kit: Kit,
    skyvia: SkyviaClient,
    token_policy: TokenPolicy,
    announcer: _Announcer,
    owner: str = "a",
) -> TimerService:
    return TimerService(
        db=kit.db,
        skyvia=skyvia,
        bindings=BindingService(db=kit.db, skyvia=skyvia, token_policy=token_policy),
        alert_settings=AlertSettings(db=kit.db, skyvia=skyvia),
        token_policy=token_policy,
        schedules=ScheduleService(db=kit.db, skyvia=skyvia),
        announcer=announcer,  # type: ignore[arg-type]
        owner=owner,
        interval=1.0,
        clock=kit.clock,
    )


async def test_a_window_is_reenabled_once_even_when_its_note_is_retried(
    kit: Kit,
    skyvia: SkyviaClient,
    binding_service: BindingService,
    token_policy: TokenPolicy,
    simulator: RunningSimulator,
) -> None:
    await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    announcer = _Announcer(outcomes=[Outcome.FAILED])
    timers = _service(kit, skyvia, token_policy, announcer)
    until = kit.clock.now + timedelta(minutes=5)
    opened = await timers.open_window(bound, 456, user_id="U1", until=until, words="5m")
    assert opened.was_active and simulator.state.backup(123, 456).scheduled is False
    assert [e.kind for e in await timers.pending(TEAM, CHANNEL)] == [TimerKind.WINDOW_END]

    assert (await timers.fire_due()).fired == 0  # not due yet
    kit.clock.advance(minutes=5)
    assert (await timers.fire_due()).fired == 0  # enabled, but the note failed: kept
    assert simulator.state.backup(123, 456).scheduled is True
    assert (await timers.fire_due()).fired == 0  # retried one interval later, not at once
    kit.clock.advance(seconds=1)
    assert (await timers.fire_due()).fired == 1
    assert [(kind, e.enabled, e.set_by, e.words) for kind, e in announcer.said] == [
        ("window", True, "U1", "5m"),
        ("window", True, "U1", "5m"),  # still "enabled", though the schedule was on by then
    ]
    assert simulator.state.call_counts().get(ENABLE, 0) == 1
    assert await timers.pending(TEAM, CHANNEL) == []


async def test_a_window_enabled_meanwhile_is_left_alone(
    kit: Kit,
    skyvia: SkyviaClient,
    binding_service: BindingService,
    token_policy: TokenPolicy,
    simulator: RunningSimulator,
) -> None:
    await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    announcer = _Announcer()
    timers = _service(kit, skyvia, token_policy, announcer)
    await timers.open_window(bound, 456, user_id="U1", until=kit.clock.now, words="1h")
    simulator.state.set_schedule(123, 456, active=True)
    assert (await timers.fire_due()).fired == 1
    assert [e.enabled for _, e in announcer.said] == [False]
    assert simulator.state.call_counts().get(ENABLE, 0) == 0


async def test_a_timed_mute_ends_and_a_plain_mute_or_unmute_cancels_it(
    kit: Kit, skyvia: SkyviaClient, binding_service: BindingService, token_policy: TokenPolicy
) -> None:
    binding = await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    announcer = _Announcer(outcomes=[Outcome.UNKNOWN])
    timers = _service(kit, skyvia, token_policy, announcer)
    muted = await timers.mute_until(bound, 456, user_id="U1", until=kit.clock.now, words="2h")
    assert muted.changed and muted.backup.name == "Nightly CRM"

    assert (await timers.fire_due()).fired == 0  # no answer from Slack: retried when stale
    async with kit.db.session() as session:
        assert await BindingRepository(session).muted_backup_ids(binding.id) == set()
    kit.clock.advance(seconds=1)
    assert (await timers.fire_due()).fired == 0
    kit.clock.advance(seconds=8)
    assert (await timers.fire_due()).fired == 1
    assert [(kind, e.backup_name) for kind, e in announcer.said] == [("mute", "Nightly CRM")] * 2

    again = await timers.mute_until(bound, 456, user_id="U1", until=kit.clock.now, words="1h")
    assert again.changed  # the end unmuted it
    assert await timers.cancel(TimerKind.MUTE_END, bound, 456)
    assert (await timers.fire_due()).fired == 0


async def test_two_replicas_fire_each_timer_once_and_a_disconnected_channel_silently(
    kit: Kit, skyvia: SkyviaClient, binding_service: BindingService, token_policy: TokenPolicy
) -> None:
    await kit.bind()
    await kit.bind(channel="C0GONE")
    bound = await binding_service.resolve(TEAM, CHANNEL)
    gone = await binding_service.resolve(TEAM, "C0GONE")
    for backup_id in (456, 457, 458):
        await _service(kit, skyvia, token_policy, _Announcer()).mute_until(
            bound, backup_id, user_id="U1", until=kit.clock.now, words="1h"
        )
    announcer = _Announcer()
    await _service(kit, skyvia, token_policy, announcer).mute_until(
        gone, 456, user_id="U1", until=kit.clock.now, words="1h"
    )
    await binding_service.disconnect(team_id=TEAM, channel_id="C0GONE", user_id="U1")
    a = _service(kit, skyvia, token_policy, announcer, owner="a")
    b = _service(kit, skyvia, token_policy, announcer, owner="b")
    first, second = await asyncio.gather(a.fire_due(), b.fire_due())
    assert first.fired + second.fired == 4
    assert sorted(e.backup_id for _, e in announcer.said) == [456, 457, 458]
    assert set(announcer.where) == {CHANNEL}


async def _due_mutes(kit: Kit, count: int) -> None:
    """`count` mute ends due now, on backups the simulator need not know (ends ask no Skyvia)."""
    async with kit.db.session() as session:
        for backup_id in range(1000, 1000 + count):
            await TimerRepository(session).set(
                kind=TimerKind.MUTE_END,
                team_id=TEAM,
                channel_id=CHANNEL,
                backup_id=backup_id,
                due_at=kit.clock.now,
                payload="{}",
                workspace_id=123,
            )


@pytest.mark.parametrize(("due", "full"), [(0, False), (49, False), (50, True)])
async def test_a_round_is_full_only_when_it_claimed_a_whole_batch(
    kit: Kit, skyvia: SkyviaClient, token_policy: TokenPolicy, due: int, full: bool
) -> None:
    """`full` makes the worker go again at once: a full batch may leave more due, anything less
    means all due timers were taken (True on an empty round would busy-loop the worker)."""
    await kit.bind()
    await _due_mutes(kit, due)
    announcer = _Announcer()
    timers = _service(kit, skyvia, token_policy, announcer)
    assert BATCH == 50
    round_ = await timers.fire_due()
    assert round_ == FireRound(fired=due, full=full)
    assert len(announcer.said) == due
    assert await timers.fire_due() == FireRound(fired=0, full=False)


async def test_a_timed_mute_of_a_muted_backup_keeps_it_muted_then_ends_it(
    kit: Kit,
    skyvia: SkyviaClient,
    binding_service: BindingService,
    alert_settings: AlertSettings,
    token_policy: TokenPolicy,
) -> None:
    """Muted "until unmuted", then `for 1h`: no change now (the notice says so), but at the end
    the mute goes and the channel is told, with the backup's name."""
    binding = await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    await alert_settings.mute(bound, 456, user_id="U1", mute=True)
    announcer = _Announcer()
    timers = _service(kit, skyvia, token_policy, announcer)
    until = kit.clock.now + timedelta(hours=1)
    muted = await timers.mute_until(bound, 456, user_id="U2", until=until, words="1h")
    assert not muted.changed and muted.backup.name == "Nightly CRM" and muted.until == until
    async with kit.db.session() as session:
        assert await BindingRepository(session).muted_backup_ids(binding.id) == {456}

    assert (await timers.fire_due()).fired == 0
    kit.clock.advance(hours=1)
    assert (await timers.fire_due()).fired == 1
    async with kit.db.session() as session:
        assert await BindingRepository(session).muted_backup_ids(binding.id) == set()
    assert [(kind, e.set_by, e.backup_name) for kind, e in announcer.said] == [
        ("mute", "U2", "Nightly CRM")
    ]
