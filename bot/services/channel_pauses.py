"""What stops a channel's alerts without anyone asking: Slack telling us the channel is gone.

Slack sends events when the bot leaves or is removed from a channel, a channel is archived or
deleted, or the app is uninstalled. Each pauses the affected bindings (with the reason in plain
words, shown by `status`) so the workers stop posting there instead of failing on every try.
Slack re-sends an event it thinks we missed (`X-Slack-Retry-Num`); `first_delivery` makes
acting on one event id happen once, across replicas, through the processed-clicks table.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.clock import utcnow
from storage.db import Database
from storage.repositories import BindingRepository, ClickRepository, click_key

log = logging.getLogger(__name__)

TEAM_GONE: dict[str, str] = {
    "app_uninstalled": "the app was uninstalled from the Slack workspace; reinstalling it resumes",
    "tokens_revoked": "the bot's Slack token was revoked; reinstalling the app resumes",
}
"""Pauses of a whole team, by the Slack event that made them; a reinstall lifts exactly these."""

EVENT_ACTOR = "events"
"""Stored as the `user_id` of an event's dedupe row: events have no clicking user."""


class ChannelPauses:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def first_delivery(self, event_id: str) -> bool:
        """True the first time an event id is seen; False for Slack's retries of it."""
        async with self._db.session() as session:
            return await ClickRepository(session).record_once(
                click_key("event", event_id), EVENT_ACTOR, self._clock()
            )

    async def pause_channel(self, team_id: str, channel_id: str, reason: str) -> bool:
        """Pauses the channel's binding; False when it has none or it was paused already."""
        async with self._db.session() as session:
            paused = await BindingRepository(session).pause(
                team_id, channel_id, reason, self._clock()
            )
        if paused:
            log.warning(
                "binding %s/%s paused: %s",
                team_id,
                channel_id,
                reason,
                extra={"team": team_id, "channel": channel_id},
            )
        return paused

    async def pause_team(self, team_id: str, reason: str, enterprise_id: str | None = None) -> int:
        """Pauses every binding of a Slack team, or with `enterprise_id` (an org-wide install)
        of every workspace of that Grid org; returns how many."""
        async with self._db.session() as session:
            count = await BindingRepository(session).pause_team(
                team_id, reason, self._clock(), enterprise_id=enterprise_id
            )
        if count:
            log.warning("%d bindings of team %s paused: %s", count, team_id, reason)
        return count

    async def resume_team(self, team_id: str, enterprise_id: str | None = None) -> int:
        """Lifts the pauses an uninstall or token revocation made (the team reinstalled; with
        `enterprise_id`, the org-wide install of that Grid org)."""
        async with self._db.session() as session:
            count = await BindingRepository(session).unpause_team(
                team_id, TEAM_GONE.values(), self._clock(), enterprise_id=enterprise_id
            )
        if count:
            log.warning("%d bindings of reinstalled team %s resumed", count, team_id)
        return count
