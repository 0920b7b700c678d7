"""What stops a channel's alerts without anyone asking, and the one way a binding is paused.

Slack sends events when the bot leaves or is removed from a channel, a channel is archived or
deleted, or the app is uninstalled; Slack refuses a post to a channel that is gone; Skyvia
rejects a binding's token, or it no longer decrypts. Each pauses the affected bindings (with the
reason in plain words, shown by `status`) so the workers stop posting there instead of failing
on every try, and each pause is logged the same way, with the team and channel ids and the
reason, never a token. Slack re-sends an event it thinks we missed (`X-Slack-Retry-Num`);
`first_delivery` makes acting on one event id happen once, across replicas, through the
processed-clicks table.

A pause over a Skyvia token is lifted by connecting the channel again. Its stored reason says
what happened and `Reconnect` how to lift it; the message layer words that hint (the command
to run), so the reason stays plain words about the channel.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime

from bot.clock import utcnow
from bot.services.models import Reconnect
from storage.db import Database
from storage.repositories import BindingRepository, ClickRepository, click_key

log = logging.getLogger(__name__)

TEAM_GONE: dict[str, str] = {
    "app_uninstalled": "the app was uninstalled from the Slack workspace; reinstalling it resumes",
    "tokens_revoked": "the bot's Slack token was revoked; reinstalling the app resumes",
}
"""Pauses of a whole team, by the Slack event that made them; a reinstall lifts exactly these."""

UNDECRYPTABLE_REASON = (
    "the stored Skyvia token of this channel could not be decrypted (was the encryption key "
    "changed?)"
)
OWN_TOKEN_REJECTED_REASON = "Skyvia rejected this channel's access token"
DEFAULT_TOKEN_REFUSED_REASON = (
    "the bot's default Skyvia token no longer serves this Slack workspace"
)
"""A binding paused because its team lost the default token (at start-up)."""


def token_rejected_reason(workspace_id: int) -> str:
    """A binding on the default token, paused because Skyvia rejected it for its workspace."""
    return f"Skyvia rejected the access token of workspace {workspace_id}"


_TOKEN_REJECTED = re.compile(r"Skyvia rejected the access token of workspace \d+")


def reconnect_lifts(reason: str | None) -> Reconnect | None:
    """How a pause with this stored reason is lifted, when a reconnect does.

    None for the other pauses, and for reasons stored before the hint moved to the messages
    (they carry it in their own words already).
    """
    if reason in (UNDECRYPTABLE_REASON, OWN_TOKEN_REJECTED_REASON) or (
        reason is not None and _TOKEN_REJECTED.fullmatch(reason)
    ):
        return Reconnect.WITH_A_WORKING_TOKEN
    if reason == DEFAULT_TOKEN_REFUSED_REASON:
        return Reconnect.WITH_ITS_OWN_TOKEN
    return None


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

    async def pause_channel(
        self,
        team_id: str,
        channel_id: str,
        reason: str,
        *,
        now: datetime | None = None,
        slack_error: str | None = None,
    ) -> bool:
        """Pauses the channel's binding; False when it has none or it was paused already.

        The one way a single binding is paused, whoever saw why (a Slack event, a post Slack
        refused with `slack_error`, a Skyvia token rejected or undecryptable), so each pause
        is written and logged alike: once, when it happens, with the ids and the reason.
        """
        async with self._db.session() as session:
            paused = await BindingRepository(session).pause(
                team_id, channel_id, reason, now or self._clock()
            )
        if paused:
            _log_paused(team_id, channel_id, reason, slack_error)
        return paused

    async def pause_default_token_bindings(self, allowed_teams: frozenset[str]) -> int:
        """Pauses the bindings on the default token of the teams not in `allowed_teams` (it no
        longer serves them); each is logged as `pause_channel` logs one. Idempotent."""
        async with self._db.session() as session:
            paused = await BindingRepository(session).pause_default_token_bindings(
                allowed_teams, DEFAULT_TOKEN_REFUSED_REASON, self._clock()
            )
        for team_id, channel_id in paused:
            _log_paused(team_id, channel_id, DEFAULT_TOKEN_REFUSED_REASON)
        return len(paused)

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


def _log_paused(team_id: str, channel_id: str, reason: str, slack_error: str | None = None) -> None:
    """The one log line of a binding's pause: ids and the reason, never anything of a token."""
    fields = {"team": team_id, "channel": channel_id}
    if slack_error is not None:
        fields["slack_error"] = slack_error
    log.warning("binding %s/%s paused: %s", team_id, channel_id, reason, extra=fields)
