""" "I'm on it": who took a failure or stale alert, told in its thread and on its header.

A click takes the alert for the person who clicked, or, when the alert showed them on it,
gives it back: one button that toggles for whoever clicks it, since a Slack button looks the
same to everyone. What a click does is read from the alert *as the clicker saw it*, so a double
click or a click Slack resends asks for the same thing twice, and the second changes nothing.
Several people may be on one alert.

Each click owes two messages through the outbox (`Announcer`): a reply in the alert's thread
and an edit of the alert's header. Their keys name the person and how many times they clicked
on that alert before, so take, step back, take again are three replies, never one "already
sent"; and a click that crashed half way and is clicked again owes the same keys (no
duplicate). The order is: the reply is owed, the click recorded (with its audit entry, in one
transaction), then the header owed, drawn from who is on it *after* the record. A crash between
the last two leaves the header one click behind until the next click or the next streak edit
(which draws the takers too); `health` reads the record itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.clock import utcnow
from bot.services.announcements import Announcer, Channel, TakerChanged, TakersChanged
from bot.services.audit import Actor, Entry, record_in
from bot.services.bindings import BoundWorkspace
from storage.db import Database
from storage.repositories import AlertRef, BindingRepository, EpisodeRepository, TakerRepository


@dataclass(frozen=True)
class TakeChange:
    """What a click did: `taken` (on it now) or stepped back, and who is on it after."""

    taken: bool
    takers: tuple[str, ...]
    changed: bool = True


class AlertTakers:
    def __init__(
        self, db: Database, announcer: Announcer, *, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self._announcer = announcer
        self._clock = clock

    async def set_taken(
        self,
        bound: BoundWorkspace,
        user_id: str,
        *,
        take: bool,
        alert_ts: str,
        backup_id: int,
        snapshot_id: int,
        shown: Mapping[str, Any],
    ) -> TakeChange:
        """Takes the alert `alert_ts` of the bound channel for `user_id` (`take`), or gives it
        back (see module docstring); `backup_id` and `snapshot_id` say what it is about.

        Asking for what already is changes nothing and owes nothing (`changed` False): a double
        click, or Slack resending a click, is one click. `shown` is the alert as the click saw
        it (text and blocks), which the header edit redraws with who is on it.
        """
        alert = AlertRef(bound.team_id, bound.channel_id, alert_ts, backup_id, snapshot_id)
        channel = Channel(bound.team_id, bound.channel_id)
        async with self._db.session() as session:
            before = await TakerRepository(session).takes(alert, user_id)
        if take == (user_id in before.takers):
            return TakeChange(take, before.takers, changed=False)
        serial = before.clicks + 1
        await self._announcer.owe(
            TakerChanged(alert_ts, snapshot_id, user_id, take, serial), channel
        )
        async with self._db.session() as session:
            repo = TakerRepository(session)
            now = self._clock()
            if take:
                await repo.take(alert, user_id, now)
            else:
                await repo.release(alert, user_id, now)
            await record_in(
                session,
                Actor(bound.team_id, bound.channel_id, user_id),
                Entry(
                    "alert taken" if take else "alert released",
                    f"backup {backup_id}",
                    "ok",
                    f"alert {alert_ts}, snapshot {snapshot_id}",
                ),
            )
            takers = await repo.on_alert(alert.team_id, alert.channel_id, alert_ts)
        await self._announcer.owe(
            TakersChanged(alert_ts, snapshot_id, user_id, serial, takers, shown), channel
        )
        return TakeChange(take, takers)

    async def of_failing(self, team_id: str, channel_id: str) -> dict[int, tuple[str, ...]]:
        """backup -> who is on the alert of its open failure episode in this channel; a backup
        failing with nobody on it is missing."""
        async with self._db.session() as session:
            binding = await BindingRepository(session).get(team_id, channel_id)
            if binding is None:
                return {}
            episodes = await EpisodeRepository(session).open_for([binding.id])
            pairs = [(backup, e.first_snapshot_id) for (_, backup), e in episodes.items()]
            return await TakerRepository(session).takers_of(team_id, channel_id, pairs)
