"""The who/where of one Slack request, the services it may use, and the ways to answer it.

Handlers take a `SlackContext` instead of Bolt's loose kwargs, so the rules live here once:
the channel, team and user always come from Slack's own envelope (never from a button value),
refusals are ephemeral, and posting to a private channel the bot is not in becomes a clear
"invite me" message instead of an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.services.alert_settings import AlertSettings
from bot.services.backups import BackupService
from bot.services.bindings import BindingService, BoundWorkspace
from bot.services.channel_pauses import ChannelPauses
from bot.services.clicks import ClickClaims
from bot.services.digests import DigestSettings
from bot.services.errors import NotInChannel, SlackBusy
from bot.services.health import HealthService
from bot.services.mentions import AlertMentions
from bot.services.schedules import ScheduleService
from bot.services.snapshots import SnapshotService
from bot.services.steps import StepExecutions
from bot.services.subscriptions import Subscriptions
from bot.services.takers import AlertTakers
from bot.services.timers import TimerService
from bot.services.token_policy import TokenPolicy
from bot.slack.authz import Authorizer, Role
from bot.slack.delivery.errors import not_in_channel
from bot.slack.delivery.paced_calls import paced
from bot.slack.delivery.pacing import POST, UPDATE, Pace
from bot.slack.installations import TeamInstallations
from bot.slack.messages import Message


@dataclass(frozen=True)
class Services:
    """Everything the listeners call: the use cases and the authorizer, nothing else.

    Built once by the composition root (`bot.container`), so handlers never see the container's
    engine, HTTP clients or settings and cannot reach past the services into storage.
    """

    authorizer: Authorizer
    bindings: BindingService
    token_policy: TokenPolicy
    alert_settings: AlertSettings
    backups: BackupService
    snapshots: SnapshotService
    schedules: ScheduleService
    clicks: ClickClaims
    timers: TimerService
    pauses: ChannelPauses
    installations: TeamInstallations
    health: HealthService
    mentions: AlertMentions
    digests: DigestSettings
    steps: StepExecutions
    takers: AlertTakers
    subscriptions: Subscriptions
    pace: Pace
    """Slack's pace of this process, the outbox's senders' own: the listeners' posts and
    edits take their turns from it too (`bot.slack.delivery.paced_calls`)."""


TURN_WITHIN = 10.0
"""Seconds a listener's post or edit waits for its turn at Slack's pace before it gives up
(`SlackBusy`): the request was acked long before, and a person is waiting for the answer."""


@dataclass
class SlackContext:
    services: Services
    client: AsyncWebClient
    team_id: str
    channel_id: str
    user_id: str
    respond: AsyncRespond | None
    trigger_id: str | None = None
    user_team_id: str | None = None
    """The user's own Slack team when the payload names it (another one in Slack Connect)."""
    enterprise_id: str | None = None
    """The Enterprise Grid org of the request's workspace (None outside Grid)."""

    @classmethod
    def from_body(
        cls,
        services: Services,
        body: dict[str, Any],
        client: AsyncWebClient,
        respond: AsyncRespond | None,
        *,
        channel_id: str | None = None,
    ) -> SlackContext:
        """Reads ids from a slash command, block action or view submission envelope."""
        team = body.get("team")
        user = body.get("user")
        channel = body.get("channel")
        return cls(
            services=services,
            client=client,
            team_id=(team.get("id") if isinstance(team, dict) else None) or body.get("team_id", ""),
            channel_id=channel_id
            or (channel.get("id") if isinstance(channel, dict) else None)
            or body.get("channel_id", ""),
            user_id=(user.get("id") if isinstance(user, dict) else None) or body.get("user_id", ""),
            respond=respond if respond is not None and respond.response_url else None,
            trigger_id=body.get("trigger_id"),
            user_team_id=(user.get("team_id") if isinstance(user, dict) else None)
            or body.get("user_team_id"),
            enterprise_id=_enterprise_of(body),
        )

    # -- answering --------------------------------------------------------------------------
    async def reply(self, message: Message, *, replace_original: bool = False) -> None:
        """Visible to this user only: through response_url when there is one, else postEphemeral."""
        if self.respond is not None:
            await self.respond(
                **message.to_dict(),
                response_type="ephemeral",
                replace_original=replace_original,
            )
            return
        await self.client.chat_postEphemeral(
            channel=self.channel_id, user=self.user_id, **message.to_dict()
        )

    async def update_original(self, message: Message) -> None:
        """Replaces the message a button was clicked on (ephemeral or not) via response_url."""
        if self.respond is None:
            raise RuntimeError("update_original needs a response_url")
        await self.respond(**message.to_dict(), replace_original=True)

    async def post(self, message: Message, *, within: float = TURN_WITHIN, **extra: Any) -> str:
        """A real channel message (own `ts`) at the channel's pace; returns the ts.

        `SlackBusy` when Slack's pace gave it no turn within `within` seconds (nothing posted).
        """

        async def call() -> Any:
            return await self.client.chat_postMessage(
                channel=self.channel_id, **message.to_dict(), **extra
            )

        try:
            response = await paced(
                self.services.pace, self.team_id, POST, self.channel_id, call, within=within
            )
        except SlackApiError as exc:
            if not_in_channel(exc):
                raise NotInChannel() from None
            raise
        return str(response["ts"])

    async def update(self, message: Message, *, channel_id: str, ts: str) -> None:
        """Edits a message of the bot's at the team's `chat.update` pace (`SlackBusy` when it
        gave no turn in time)."""

        async def call() -> Any:
            return await self.client.chat_update(**message.kwargs(channel=channel_id, ts=ts))

        await paced(self.services.pace, self.team_id, UPDATE, None, call, within=TURN_WITHIN)

    async def post_or_tell(self, message: Message) -> None:
        """To the channel; a private channel without the bot, or one whose pace Slack keeps
        too busy, still tells the person who did it."""
        try:
            await self.post(message)
        except (NotInChannel, SlackBusy):
            await self.reply(message)

    async def permalink(self, channel_id: str, message_ts: str | None) -> str | None:
        """A link to a message, or None: a missing link must never cost the answer itself."""
        if not message_ts:
            return None
        try:
            response = await self.client.chat_getPermalink(
                channel=channel_id, message_ts=message_ts
            )
        except SlackApiError:
            return None
        link = response.get("permalink")
        return link if isinstance(link, str) else None

    # -- authorization ------------------------------------------------------------------------
    async def require(self, needed: Role, action: str) -> Role:
        return await self.services.authorizer.require(
            self.client, self.team_id, self.user_id, needed, action, user_team_id=self.user_team_id
        )

    async def require_insider(self, action: str) -> None:
        """Full members only (no guests, no other organisation), whatever their role."""
        await self.services.authorizer.require_insider(
            self.client, self.team_id, self.user_id, action, user_team_id=self.user_team_id
        )

    async def workspace(self) -> BoundWorkspace:
        """The clicked/typed-in channel's binding — the only source of workspace and token."""
        return await self.services.bindings.resolve(self.team_id, self.channel_id)


def _enterprise_of(body: dict[str, Any]) -> str | None:
    """The Grid org id: a command's `enterprise_id`, an interaction's `enterprise.id` or
    `team.enterprise_id`."""
    enterprise = body.get("enterprise")
    team = body.get("team")
    found = (
        body.get("enterprise_id")
        or (enterprise.get("id") if isinstance(enterprise, dict) else None)
        or (team.get("enterprise_id") if isinstance(team, dict) else None)
    )
    return str(found) if found else None
