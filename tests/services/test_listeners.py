"""Who hears a failure: alert-enabled, not muted, and ended after the channel started listening
to that backup (connect or `alerts on`, and its last unmute)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services.alerting.failure_listing import Listeners
from storage.records import BindingRecord
from tests.services.kit import binding_record

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _binding() -> BindingRecord:
    return binding_record(1, since=T0)


def test_a_failure_that_ended_while_muted_is_not_heard_after_the_unmute() -> None:
    unmuted_at = T0 + timedelta(hours=1)
    listeners = Listeners([_binding()], {1: set()}, {(1, 456): unmuted_at})
    assert not listeners.hear(_binding(), 456, unmuted_at - timedelta(seconds=1))
    assert listeners.hear(_binding(), 456, unmuted_at)
    assert listeners.hear(_binding(), 457, T0 + timedelta(minutes=1))  # other backups: as before


def test_muted_is_never_heard_and_alerts_since_still_counts() -> None:
    listeners = Listeners([_binding()], {1: {456}})
    assert not listeners.hear(_binding(), 456, T0 + timedelta(days=1))
    assert not listeners.hear(_binding(), 457, T0 - timedelta(seconds=1))
    assert listeners.hear(_binding(), 457, None)
