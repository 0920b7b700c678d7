"""Timers' edges: an end set again, windows ending early, by hand, together or after a later one,
and a window that outlives its channel's binding."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.services.announcements import Channel, Outcome, TimerEnded
from bot.services.bindings import BindingService
from bot.services.token_policy import TokenPolicy
from bot.simulator import RunningSimulator
from bot.skyvia.client import SkyviaClient
from storage.models import TimerKind
from tests.constants import OTHER_CHANNEL
from tests.services.kit import CHANNEL, TEAM, Kit
from tests.services.test_timers import _Announcer, _service

ONE_MINUTE = timedelta(minutes=1)
"""Two ends this close are the same end (`SAME_END`, written out: the constant is the rule)."""


@dataclass
class _RefusingByHand(_Announcer):
    """Never gets a closed-by-hand window's note out, so that window's row stays pending."""

    async def owe(self, news: TimerEnded, to: Channel) -> Outcome:
        await super().owe(news, to)
        return Outcome.FAILED if news.by_hand else Outcome.SENT


@dataclass
class _RefusingHeld(_Announcer):
    """Never gets a held window's note out, so that window's row stays pending."""

    async def owe(self, news: TimerEnded, to: Channel) -> Outcome:
        await super().owe(news, to)
        return Outcome.FAILED if news.held_until else Outcome.SENT


async def test_a_mute_set_again_within_a_minute_of_its_end_keeps_the_first_end(
    kit: Kit, skyvia: SkyviaClient, binding_service: BindingService, token_policy: TokenPolicy
) -> None:
    await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    timers = _service(kit, skyvia, token_policy, _Announcer())
    until = kit.clock.now + timedelta(hours=1)
    first = await timers.mute_until(bound, 456, user_id="U1", until=until, words="1h")
    assert first.changed and not first.repeat

    # Exactly a minute later is still the same end: nothing changes, the first end stays.
    again = await timers.mute_until(bound, 456, user_id="U2", until=until + ONE_MINUTE, words="x")
    assert (again.backup.id, again.backup.name, again.until) == (456, "Nightly CRM", until)
    assert again.repeat and not again.changed
    earlier = await timers.mute_until(bound, 456, user_id="U2", until=until - ONE_MINUTE, words="")
    assert earlier.repeat and earlier.until == until

    # A second more is a new end, which replaces the first.
    later = until + ONE_MINUTE + timedelta(seconds=1)
    moved = await timers.mute_until(bound, 456, user_id="U2", until=later, words="61m")
    assert not moved.repeat and not moved.changed and moved.until == later
    assert [e.due_at for e in await timers.pending(TEAM, CHANNEL)] == [later]


async def test_a_window_opened_again_with_the_same_end_is_a_repeat(
    kit: Kit,
    skyvia: SkyviaClient,
    binding_service: BindingService,
    token_policy: TokenPolicy,
    simulator: RunningSimulator,
) -> None:
    await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    timers = _service(kit, skyvia, token_policy, _Announcer())
    until = kit.clock.now + timedelta(hours=1)
    first = await timers.open_window(bound, 456, user_id="U1", until=until, words="1h")
    assert first.was_active and not first.repeat
    again = await timers.open_window(
        bound, 456, user_id="U2", until=until + timedelta(seconds=30), words="1h"
    )
    assert (again.backup.id, again.until, again.was_active, again.repeat) == (
        456,
        until,
        False,
        True,
    )
    assert [e.due_at for e in await timers.pending(TEAM, CHANNEL)] == [until]

    # Off already, but a new end: the window moves to it and is no repeat.
    later = until + timedelta(hours=1)
    moved = await timers.open_window(bound, 456, user_id="U2", until=later, words="2h")
    assert (moved.until, moved.was_active, moved.repeat) == (later, False, False)
    assert simulator.state.backup(123, 456).scheduled is False


async def test_a_window_ended_now_is_fired_at_once_and_none_says_so(
    kit: Kit,
    skyvia: SkyviaClient,
    binding_service: BindingService,
    token_policy: TokenPolicy,
    simulator: RunningSimulator,
) -> None:
    await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    timers = _service(kit, skyvia, token_policy, _Announcer())
    assert not await timers.end_window_now(bound, 456)
    await timers.open_window(
        bound, 456, user_id="U1", until=kit.clock.now + timedelta(hours=1), words="1h"
    )
    assert (await timers.fire_due()).fired == 0
    assert await timers.end_window_now(bound, 456)
    assert (await timers.fire_due()).fired == 1
    assert simulator.state.backup(123, 456).scheduled is True


async def test_closing_by_hand_skips_a_window_that_enabled_the_schedule_and_hides_closed_ones(
    kit: Kit, skyvia: SkyviaClient, binding_service: BindingService, token_policy: TokenPolicy
) -> None:
    """A window whose end enabled the schedule (its note still owed) is not closed again;
    a closed window leaves `status`, a mute's end stays in it."""
    await kit.bind()
    await kit.bind(channel=OTHER_CHANNEL)
    here = await binding_service.resolve(TEAM, CHANNEL)
    there = await binding_service.resolve(TEAM, OTHER_CHANNEL)
    announcer = _Announcer(outcomes=[Outcome.FAILED])
    timers = _service(kit, skyvia, token_policy, announcer)
    await timers.open_window(there, 456, user_id="U1", until=kit.clock.now, words="now")
    assert (await timers.fire_due()).fired == 0  # enabled, its note failed: still pending
    hour = kit.clock.now + timedelta(hours=1)
    await timers.open_window(here, 456, user_id="U1", until=hour, words="1h")
    await timers.mute_until(here, 457, user_id="U1", until=hour, words="1h")

    assert await timers.close_windows(here, 456, user_id="U9", active=True) == 1
    assert [(e.kind, e.backup_id) for e in await timers.pending(TEAM, CHANNEL)] == [
        (TimerKind.MUTE_END, 457)
    ]
    kit.clock.advance(seconds=1)
    assert (await timers.fire_due()).fired == 2
    said = zip(announcer.where[1:], announcer.said[1:], strict=True)
    notes = {channel: e for channel, (kind, e) in said if kind == "window"}
    assert (notes[OTHER_CHANNEL].enabled, notes[OTHER_CHANNEL].by_hand) == (True, None)
    assert (notes[CHANNEL].by_hand, notes[CHANNEL].turned_on) == ("U9", True)


async def test_a_window_ending_before_another_on_the_backup_keeps_the_schedule_off(
    kit: Kit,
    skyvia: SkyviaClient,
    binding_service: BindingService,
    token_policy: TokenPolicy,
    simulator: RunningSimulator,
) -> None:
    await kit.bind()
    await kit.bind(channel=OTHER_CHANNEL)
    here = await binding_service.resolve(TEAM, CHANNEL)
    there = await binding_service.resolve(TEAM, OTHER_CHANNEL)
    announcer = _Announcer()
    timers = _service(kit, skyvia, token_policy, announcer)
    one, two = kit.clock.now + timedelta(hours=1), kit.clock.now + timedelta(hours=2)
    await timers.open_window(here, 456, user_id="U1", until=one, words="1h")
    await timers.open_window(there, 456, user_id="U1", until=two, words="2h")
    kit.clock.advance(hours=1)
    assert (await timers.fire_due()).fired == 1
    assert simulator.state.backup(123, 456).scheduled is False
    kit.clock.advance(hours=1)
    assert (await timers.fire_due()).fired == 1
    assert simulator.state.backup(123, 456).scheduled is True
    said = zip(announcer.where, announcer.said, strict=True)
    assert [(channel, e.enabled, e.held_until) for channel, (_, e) in said] == [
        (CHANNEL, False, two),
        (OTHER_CHANNEL, True, None),
    ]


async def test_windows_past_their_ends_together_turn_the_schedule_back_on(
    kit: Kit,
    skyvia: SkyviaClient,
    binding_service: BindingService,
    token_policy: TokenPolicy,
    simulator: RunningSimulator,
) -> None:
    """Fired in one round, the later window is not held by an earlier one whose end is also
    past; and two windows ending at the same moment hold neither the other (each note that
    says "held" is refused here, so both windows are still there when each looks)."""
    await kit.bind()
    await kit.bind(channel=OTHER_CHANNEL)
    here = await binding_service.resolve(TEAM, CHANNEL)
    there = await binding_service.resolve(TEAM, OTHER_CHANNEL)
    hour = timedelta(hours=1)
    for first_end, second_end in ((ONE_MINUTE, 2 * hour), (hour, hour)):
        announcer = _RefusingHeld()
        timers = _service(kit, skyvia, token_policy, announcer)
        start = kit.clock.now
        await timers.open_window(here, 456, user_id="U1", until=start + first_end, words="x")
        await timers.open_window(there, 456, user_id="U1", until=start + second_end, words="x")
        kit.clock.advance(hours=3)
        await timers.fire_due()
        assert simulator.state.backup(123, 456).scheduled is True, second_end
        if first_end == second_end:
            assert [e.held_until for _, e in announcer.said] == [None, None]
            assert await timers.pending(TEAM, CHANNEL) == []
        kit.clock.advance(hours=3)
        while (await timers.fire_due()).fired:
            pass


async def test_a_window_closed_by_hand_holds_no_other_window(
    kit: Kit,
    skyvia: SkyviaClient,
    binding_service: BindingService,
    token_policy: TokenPolicy,
    simulator: RunningSimulator,
) -> None:
    await kit.bind()
    await kit.bind(channel=OTHER_CHANNEL)
    here = await binding_service.resolve(TEAM, CHANNEL)
    there = await binding_service.resolve(TEAM, OTHER_CHANNEL)
    announcer = _RefusingByHand()
    timers = _service(kit, skyvia, token_policy, announcer)
    await timers.open_window(
        here, 456, user_id="U1", until=kit.clock.now + timedelta(hours=2), words="2h"
    )
    assert await timers.close_windows(here, 456, user_id="U9", active=False) == 1
    await timers.open_window(there, 456, user_id="U1", until=kit.clock.now, words="now")
    assert (await timers.fire_due()).fired == 1  # the closed one's note is refused
    assert simulator.state.backup(123, 456).scheduled is True
    said = zip(announcer.where, announcer.said, strict=True)
    assert [e.enabled for channel, (_, e) in said if channel == OTHER_CHANNEL] == [True]


async def test_a_window_ends_with_the_token_it_was_opened_with_after_a_disconnect(
    kit: Kit,
    skyvia: SkyviaClient,
    binding_service: BindingService,
    token_policy: TokenPolicy,
    simulator: RunningSimulator,
) -> None:
    simulator.state.add_token("own-token", [123])
    await binding_service.connect(
        team_id=TEAM, channel_id=CHANNEL, workspace_id=123, token="own-token", user_id="U1"
    )
    bound = await binding_service.resolve(TEAM, CHANNEL)
    announcer = _Announcer()
    timers = _service(kit, skyvia, token_policy, announcer)
    until = kit.clock.now + timedelta(hours=1)
    await timers.open_window(bound, 456, user_id="U1", until=until, words="1h")
    await timers.mute_until(bound, 457, user_id="U1", until=until, words="1h")
    await binding_service.disconnect(team_id=TEAM, channel_id=CHANNEL, user_id="U1")
    simulator.state.remove_token(simulator.token)  # the default token would not do
    kit.clock.advance(hours=1)
    assert (await timers.fire_due()).fired == 2
    assert [(kind, e.enabled, e.failed) for kind, e in announcer.said] == [("window", True, None)]
    assert simulator.state.backup(123, 456).scheduled is True
