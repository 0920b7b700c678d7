"""The adapter's table: every kind of news has its row, and each row owes its parts under the
ledger keys the outbox has always used (exactly once depends on them: a changed key would owe
again what a running bot already sent)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, get_args, get_type_hints

import pytest

from bot.services.announcements import (
    CardChanged,
    CardOwed,
    CardVanished,
    Channel,
    DigestDue,
    FailureContinued,
    FailureSeen,
    FreshAgain,
    MuteEnded,
    News,
    Outcome,
    OverdueEnded,
    PersonalFailure,
    PersonalRecovery,
    Recovered,
    RejectedToken,
    RunFinished,
    RunOverdue,
    RunVanished,
    StaleNoticed,
    StepEnd,
    StepEnded,
    StepFinished,
    StillRunning,
    TakerChanged,
    TakersChanged,
    WatchGaveUp,
    WindowEnded,
)
from bot.services.digests import DigestSetting
from bot.services.models import RunStep, WatchedRun, WorkspaceHealth
from bot.skyvia.models import Snapshot, SnapshotState
from bot.slack.delivery.announcer import PLANS, Complete, Edit, Post, SlackAnnouncer, plan_of
from bot.slack.delivery.keys import DeliveryKey, DeliveryResult
from bot.slack.messages import Message

T0 = datetime(2026, 5, 10, 7, tzinfo=UTC)
FAILED = Snapshot(snapshot_id=7001, start_time=T0, end_time=T0, state=SnapshotState.FAILED)
RUN = WatchedRun(
    channel_id="C1",
    backup_id=456,
    snapshot_id=7001,
    started_by="U0DANA",
    started_at=T0,
    backup_name="Nightly CRM",
    team_id="T1",
    message_ts="1.1",
)
STEPPED = replace(RUN, step=RunStep("Ft1", "ciphertext", T0))
LONG_ID = "W" + "1" * 20
"""A user id longer than 16 characters: the ledger keeps a digest of it."""


def test_every_kind_of_news_has_its_row() -> None:
    assert set(get_args(News)) == set(PLANS)
    for kind, row in PLANS.items():  # the table is typed loosely: each row takes its own kind
        assert get_type_hints(row)["news"] is kind, row.__name__


def _key(part: Post | Edit | Complete) -> tuple[int, str, str | None]:
    """(serial, kind, thread or edited ts) of a part, as the adapter keys it in the channel."""
    if isinstance(part, Post):
        return part.serial, part.kind, part.thread_ts
    if isinstance(part, Edit):
        return part.serial, part.kind, part.ts
    return part.serial, "step_done", None


ENDS = T0 + timedelta(hours=1)
SERIAL = int(ENDS.timestamp())
SETTING = DigestSetting(at=time(9), tz="Europe/Berlin", set_by="U0DANA", next_at=T0)


@pytest.mark.parametrize(
    ("news", "keys"),
    [
        (RunFinished(RUN, FAILED), [(7001, "thread_reply", "1.1")]),
        (RunFinished(RUN, FAILED, without_card=True), [(7001, "thread_reply", None)]),
        (CardOwed(RUN, FAILED, T0), [(7001, "card", None)]),
        (CardChanged(RUN, FAILED, T0), [(7001, "card:Failed", "1.1")]),
        (StillRunning(RUN, 60), [(7001, "note:60", "1.1")]),
        (WatchGaveUp(RUN, 12), [(7001, "gave_up", "1.1")]),
        (RunVanished(RUN), [(7001, "vanished", "1.1")]),
        (CardVanished(RUN), [(7001, "card:vanished", "1.1")]),
        (StepFinished(RUN, FAILED), []),  # no step: nothing to complete
        (StepEnded(RUN, StepEnd.STOPPED), []),
        (StepFinished(STEPPED, FAILED), [(7001, "step_done", None)]),
        (StepEnded(STEPPED, StepEnd.STOPPED), [(7001, "step_done", None)]),
        (FailureSeen(456, "Nightly CRM", FAILED), [(7001, "alert", None)]),
        (
            FailureContinued("2.2", 456, None, FAILED, 2, T0, 7000),
            [(7001, "episode_reply", "2.2"), (7001, "episode_header", "2.2")],
        ),
        (
            Recovered("2.2", 456, None, 7002, 3, 3600),
            [(7002, "recovered", "2.2"), (7002, "recovered_header", "2.2")],
        ),
        (StaleNoticed(456, None, 6999, 3600, None), [(6999, "stale", None)]),
        (
            FreshAgain("3.3", 456, None, 7003),
            [(7003, "fresh", "3.3"), (7003, "fresh_header", "3.3")],
        ),
        (RunOverdue(456, None, 7001, 7200, None, None), [(7001, "overdue", None)]),
        (OverdueEnded("4.4", 456, None, FAILED), [(7001, "overdue_end", "4.4")]),
        (RejectedToken(123, T0), [(int(T0.timestamp()) % 2**31, "revoked", None)]),
        (PersonalFailure("C1", 456, None, FAILED), [(7001, "dm_failed", None)]),
        (PersonalRecovery("C1", 456, None, 7002, 3, 60), [(7002, "dm_recovered", None)]),
        (MuteEnded(456, None, "U1", "1h", ENDS), [(456, f"mute_end:{SERIAL}", None)]),
        (WindowEnded(456, None, "U1", "1h", ENDS), [(456, f"window_end:{SERIAL}", None)]),
        (
            DigestDue(date(2026, 5, 10), SETTING, WorkspaceHealth(123, None, []), T0),
            [(0, "digest:2026-05-10T07:00Z", None)],
        ),
        (TakerChanged("2.2", 7000, "U0DANA", True, 2), [(7000, "take:U0DANA:2", "2.2")]),
        (TakerChanged("2.2", 7000, "U0DANA", False, 3), [(7000, "untake:U0DANA:3", "2.2")]),
        (
            TakersChanged("2.2", 7000, LONG_ID, 1, (LONG_ID,), {"text": "x", "blocks": []}),
            [(7000, "takeh:5c76b4b65a47f3db:1", "2.2")],
        ),
    ],
)
def test_each_part_keeps_its_ledger_key(news: News, keys: list[tuple[int, str, str]]) -> None:
    assert [_key(part) for part in plan_of(news, ())] == keys


def test_an_alert_records_its_backup_with_the_claim() -> None:
    [part] = plan_of(FailureSeen(456, "Nightly CRM", FAILED), ("U0DANA",))
    assert isinstance(part, Post) and part.subject == (456, "Nightly CRM")
    assert "<@U0DANA>" in str(part.message.blocks)


class _Recording:
    """Records what was owed to whom; answers QUEUED."""

    stale_after = timedelta(seconds=8)

    def __init__(self) -> None:
        self.owed: list[tuple[DeliveryKey, Message]] = []

    async def deliver(self, key: DeliveryKey, message: Message, **_: Any) -> DeliveryResult:
        self.owed.append((key, message))
        return DeliveryResult(Outcome.QUEUED)


async def test_a_fan_out_draws_the_alert_once_per_set_of_mentions() -> None:
    notifier = _Recording()
    announcer = SlackAnnouncer(notifier)  # type: ignore[arg-type]
    channels = [Channel("T1", "C1"), Channel("T1", "C2", ("U0DANA",)), Channel("T1", "C3")]
    outcomes = await announcer.owe_all(FailureSeen(456, None, FAILED), channels)
    assert outcomes == [Outcome.QUEUED] * 3
    by_channel = {key.channel_id: message for key, message in notifier.owed}
    assert by_channel["C1"] is by_channel["C3"] is not by_channel["C2"]
    assert {key.ledger_key for key, _ in notifier.owed} == {
        ("T1", channel, 7001, "alert") for channel in ("C1", "C2", "C3")
    }
