"""Who a channel's failure alerts mention: a setting of the channel's binding.

Kept apart from `AlertSettings` because it touches nothing of Skyvia: the ids come from Slack's
escaped command text, so they are real users and user groups of the team by construction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from bot.clock import utcnow
from bot.services.audit import Actor, Entry, record_in
from bot.services.errors import NotBound
from storage.db import Database
from storage.repositories import BindingRepository


class AlertMentions:
    def __init__(self, db: Database, *, clock: Callable[[], datetime] = utcnow) -> None:
        self._db = db
        self._clock = clock

    async def set(
        self, *, team_id: str, channel_id: str, user_id: str, mention_ids: Sequence[str]
    ) -> bool:
        """Replaces the channel's mentions (empty: none); audited with the ids, never names.

        False when they already were these (a repeat, told to the person only:
        docs/reference/messages.md#channel-notices); nothing is written then.
        """
        async with self._db.session() as session:
            bindings = BindingRepository(session)
            binding = await bindings.get(team_id, channel_id)
            if binding is None:
                raise NotBound()
            actor = Actor(team_id, channel_id, user_id)
            detail = " ".join(mention_ids) or "off"
            if binding.mention_ids == tuple(mention_ids):
                await record_in(session, actor, Entry("alerts mention", "channel", "unchanged"))
                return False
            if not await bindings.set_mentions(team_id, channel_id, mention_ids, self._clock()):
                raise NotBound()
            await record_in(session, actor, Entry("alerts mention", "channel", "ok", detail))
            return True
