"""The daily digest: its local time across DST changes, once a day, late but once after an
outage, once with two replicas, and through the real announcer into the fake Slack."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, time, timedelta

import pytest

from bot.services.alert_settings import AlertSettings
from bot.services.bindings import BindingService
from bot.services.digests import DigestSettings, digest_day, next_digest_at
from bot.services.health import HealthService
from bot.services.schedules import ScheduleService
from bot.services.timers import TimerService
from bot.services.token_policy import TokenPolicy
from bot.skyvia.client import SkyviaClient
from storage.models import Timer, TimerKind
from storage.repositories import TimerRepository
from tests.services.kit import CHANNEL, TEAM, Kit

NY = "America/New_York"  # DST from 2026-03-08 02:00 to 2026-11-01 02:00
BERLIN = "Europe/Berlin"  # DST from 2026-03-29 02:00 to 2026-10-25 03:00


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    ("after", "at", "tz", "expected"),
    [
        # 09:00 in New York is 14:00 UTC in winter, 13:00 UTC in summer.
        (utc(2026, 3, 7, 12), time(9), NY, utc(2026, 3, 7, 14)),
        (utc(2026, 3, 7, 14), time(9), NY, utc(2026, 3, 8, 13)),  # exactly at it: the next day
        (utc(2026, 3, 7, 13, 59, 59), time(9), NY, utc(2026, 3, 7, 14)),
        (utc(2026, 10, 31, 13), time(9), NY, utc(2026, 11, 1, 14)),
        # 02:30 does not exist in New York on 2026-03-08: it is read as just after the jump.
        (utc(2026, 3, 8, 0), time(2, 30), NY, utc(2026, 3, 8, 7, 30)),
        # 01:30 happens twice on 2026-11-01: the first one (still EDT, UTC-4).
        (utc(2026, 11, 1, 0), time(1, 30), NY, utc(2026, 11, 1, 5, 30)),
        # Midnight in Berlin, late on the previous UTC day.
        (utc(2026, 10, 24, 21), time(0, 0), BERLIN, utc(2026, 10, 24, 22)),
        (utc(2026, 10, 24, 22), time(0, 0), BERLIN, utc(2026, 10, 25, 23)),
        # A zone Slack may send that this machine does not know reads as UTC.
        (utc(2026, 5, 1, 8), time(9), "Mars/Olympus", utc(2026, 5, 1, 9)),
    ],
)
def test_the_next_digest_is_the_local_time_on_either_side_of_dst(
    after: datetime, at: time, tz: str, expected: datetime
) -> None:
    assert next_digest_at(after, at, tz) == expected


def test_the_digest_day_is_the_latest_local_day_whose_time_passed() -> None:
    assert digest_day(utc(2026, 3, 8, 13), time(9), NY) == (date(2026, 3, 8), utc(2026, 3, 8, 13))
    assert digest_day(utc(2026, 3, 8, 12, 59), time(9), NY) == (
        date(2026, 3, 7),
        utc(2026, 3, 7, 14),
    )
    # 23:30 in New York is already the next day in UTC: the local day counts.
    assert digest_day(utc(2026, 6, 2, 3, 40), time(23, 30), NY) == (
        date(2026, 6, 1),
        utc(2026, 6, 2, 3, 30),
    )


def _timers(kit: Kit, skyvia: SkyviaClient, token_policy: TokenPolicy, owner: str) -> TimerService:
    alert_settings = AlertSettings(db=kit.db, skyvia=skyvia)
    return TimerService(
        db=kit.db,
        skyvia=skyvia,
        bindings=BindingService(db=kit.db, skyvia=skyvia, token_policy=token_policy),
        alert_settings=alert_settings,
        token_policy=token_policy,
        schedules=ScheduleService(db=kit.db, skyvia=skyvia),
        announcer=kit.announcer,
        health=HealthService(skyvia=skyvia, alert_settings=alert_settings),
        owner=owner,
        interval=1.0,
        clock=kit.clock,
    )


async def _digest_row(kit: Kit) -> Timer | None:
    async with kit.db.session() as session:
        return await TimerRepository(session).get(
            kind=TimerKind.DIGEST, team_id=TEAM, channel_id=CHANNEL, backup_id=0
        )


async def _digests(kit: Kit) -> list[str]:
    await kit.flush()  # what the timers owed reaches Slack
    return [m.text for m in kit.slack.messages(CHANNEL) if "Daily digest" in m.text]


async def test_a_digest_posts_once_a_day_at_local_time_across_the_spring_change(
    kit: Kit, skyvia: SkyviaClient, binding_service: BindingService, token_policy: TokenPolicy
) -> None:
    kit.clock.now = utc(2026, 3, 7, 12)
    await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    settings = DigestSettings(kit.db, clock=kit.clock)
    setting, changed = await settings.set(bound, at=time(9), tz=NY, user_id="U1")
    assert changed and setting.next_at == utc(2026, 3, 7, 14)
    assert (await settings.set(bound, at=time(9), tz=NY, user_id="U2"))[1] is False
    timers = _timers(kit, skyvia, token_policy, "a")

    assert (await timers.fire_due()).fired == 0
    kit.clock.now = utc(2026, 3, 7, 14)
    assert (await timers.fire_due()).fired == 1
    assert len(await _digests(kit)) == 1
    assert "Daily at 09:00 (America/New_York), set by <@U1>" in str(
        kit.slack.messages(CHANNEL)[-1].blocks
    )
    row = await _digest_row(kit)
    assert row is not None and row.due_at == utc(2026, 3, 8, 13)  # 09:00 EDT
    assert (await timers.fire_due()).fired == 0  # not again that day

    kit.clock.now = utc(2026, 3, 8, 13)
    assert (await timers.fire_due()).fired == 1
    assert len(await _digests(kit)) == 2
    row = await _digest_row(kit)
    assert row is not None and row.due_at == utc(2026, 3, 9, 13)


async def test_days_missed_while_down_give_one_digest_then_the_next_day_on_time(
    kit: Kit, skyvia: SkyviaClient, binding_service: BindingService, token_policy: TokenPolicy
) -> None:
    kit.clock.now = utc(2026, 6, 1, 6)
    await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    await DigestSettings(kit.db, clock=kit.clock).set(bound, at=time(9), tz=BERLIN, user_id="U1")
    kit.clock.now = utc(2026, 6, 4, 10)  # down from before the first until after the fourth
    a = _timers(kit, skyvia, token_policy, "a")
    b = _timers(kit, skyvia, token_policy, "b")
    first, second = await asyncio.gather(a.fire_due(), b.fire_due())
    assert first.fired + second.fired == 1
    assert len(await _digests(kit)) == 1
    row = await _digest_row(kit)
    assert row is not None and row.due_at == utc(2026, 6, 5, 7)  # 09:00 CEST, not the past

    # A crash after the post but before the row moved: claimed again, not posted again.
    async with kit.db.session() as session:
        await TimerRepository(session).set(
            kind=TimerKind.DIGEST,
            team_id=TEAM,
            channel_id=CHANNEL,
            backup_id=0,
            due_at=utc(2026, 6, 4, 7),
            payload=row.payload,
        )
    assert (await a.fire_due()).fired == 1
    assert len(await _digests(kit)) == 1


async def test_digest_off_and_a_disconnected_channel_stop_it(
    kit: Kit, skyvia: SkyviaClient, binding_service: BindingService, token_policy: TokenPolicy
) -> None:
    kit.clock.now = utc(2026, 6, 1, 6)
    await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    settings = DigestSettings(kit.db, clock=kit.clock)
    await settings.set(bound, at=time(9), tz=BERLIN, user_id="U1")
    dropped = await settings.off(TEAM, CHANNEL)
    assert dropped is not None and dropped.words == "09:00 (Europe/Berlin)"
    assert await settings.off(TEAM, CHANNEL) is None
    assert await settings.current(TEAM, CHANNEL) is None

    await settings.set(bound, at=time(9), tz=BERLIN, user_id="U1")
    await binding_service.disconnect(team_id=TEAM, channel_id=CHANNEL, user_id="U1")
    kit.clock.now += timedelta(days=1)
    timers = _timers(kit, skyvia, token_policy, "a")
    assert (await timers.fire_due()).fired == 1  # the row goes, nothing is said
    assert await _digests(kit) == [] and await _digest_row(kit) is None
    assert await timers.pending(TEAM, CHANNEL) == []


async def test_a_digest_set_again_from_another_zone_neither_skips_a_day_nor_posts_two(
    kit: Kit, skyvia: SkyviaClient, binding_service: BindingService, token_policy: TokenPolicy
) -> None:
    """The day that keys a digest is a local day: Tokyo's 6 January is not Los Angeles's.

    Issue 18 (suspicion, true): the ledger key was the bare date, so a digest set again from a
    zone behind the first one found "that day" already sent and skipped it (41 h without one).
    Neither may a re-set give a channel a second digest on a local day it already had one.
    """
    tokyo, los_angeles, vancouver = "Asia/Tokyo", "America/Los_Angeles", "America/Vancouver"
    kit.clock.now = utc(2026, 1, 5, 12)
    await kit.bind()
    bound = await binding_service.resolve(TEAM, CHANNEL)
    settings = DigestSettings(kit.db, clock=kit.clock)
    timers = _timers(kit, skyvia, token_policy, "a")
    await settings.set(bound, at=time(9), tz=tokyo, user_id="U1")
    kit.clock.now = utc(2026, 1, 6, 0)  # 09:00 on 6 January in Tokyo
    assert (await timers.fire_due()).fired == 1
    assert len(await _digests(kit)) == 1

    # Set again from Los Angeles, where it is still 5 January: its 6 January is still to come.
    kit.clock.now = utc(2026, 1, 6, 1)
    setting, _ = await settings.set(bound, at=time(9), tz=los_angeles, user_id="U2")
    assert setting.next_at == utc(2026, 1, 6, 17)
    kit.clock.now = utc(2026, 1, 6, 17)
    assert (await timers.fire_due()).fired == 1
    assert len(await _digests(kit)) == 2, "Los Angeles's 6 January got no digest"

    # Set again to a later hour of the same local day (Vancouver keeps Los Angeles's time):
    # that day had its digest; the next comes the next day.
    kit.clock.now = utc(2026, 1, 6, 18)
    setting, _ = await settings.set(bound, at=time(11), tz=vancouver, user_id="U3")
    assert setting.next_at == utc(2026, 1, 6, 19)
    kit.clock.now = utc(2026, 1, 6, 19)
    assert (await timers.fire_due()).fired == 1
    assert len(await _digests(kit)) == 2, "a second digest on Vancouver's 6 January"
    row = await _digest_row(kit)
    assert row is not None and row.due_at == utc(2026, 1, 7, 19)
    kit.clock.now = utc(2026, 1, 7, 19)
    assert (await timers.fire_due()).fired == 1
    assert len(await _digests(kit)) == 3
