"""A local stand-in for the Slack Web API, served over real HTTP on loopback.

`skyvia-bot console` runs the real bot against it (no Slack workspace needed), and the
end-to-end tests use it as their Slack. It is a real server, not a Python-level mock, because
what matters lives in the HTTP exchange: slack_sdk's JSON-vs-form encodings, its retry handlers
reading `Retry-After`, Bolt's `respond()` posting to a `response_url`. Behaviour copies Slack where
that is cheap (error codes, `ts` values, thread bookkeeping, Block Kit validation through
slack_sdk's own models) so that a bot that passes here does not meet surprises in a real workspace.

Rate limits: off by default (a unit test never meets a 429). `FakeSlack(tiers=SlackTiers.
documented())`, or `enable_tiers()` while serving, turns on Slack's documented tiers
(`bot.devtools.slack_tiers`): token buckets per workspace and method, and per channel for
`chat.postMessage`. A call past them is answered 429 `ratelimited` with `Retry-After` (whole
seconds) and does nothing. `call_counts()` and `rate_limited_counts()` say how many calls of each
method came and how many the tiers refused; `clock=` lets a test move the buckets' time.

Usage::

    async with running_fake_slack() as slack:
        settings = Settings(slack_api_url=slack.api_url, slack_bot_token=slack.bot_token, ...)
        ...
        await slack.wait_for("chat.postMessage", lambda c: c.args["channel"] == "C1")
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import uvicorn
from slack_sdk.models.blocks import Block
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.devtools.slack_oauth_standin import IssuedToken, OAuthFailure, OAuthStandin
from bot.devtools.slack_tiers import Limit, SlackTiers, TierLimiter
from bot.devtools.waiting import poll

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
RESPONSE_URL_MAX_POSTS = 5

# Arguments that slack_sdk (or a hand-written form post) may send JSON-encoded inside a form body.
_JSON_ENCODED_ARGS = ("blocks", "attachments", "metadata", "view")
_T = TypeVar("_T")

__all__ = [
    "MAX_MESSAGE_BLOCKS",
    "MAX_VIEW_BLOCKS",
    "RESPONSE_URL_MAX_POSTS",
    "EphemeralMessage",
    "EphemeralPosted",
    "FakeChannel",
    "FakeSlack",
    "FakeUser",
    "HomePublished",
    "MessagePosted",
    "MessageUpdated",
    "PostedMessage",
    "ResponsePost",
    "ResponsePosted",
    "SlackCall",
    "StandinEvent",
    "StepCompletion",
    "ViewOpened",
    "ViewUpdated",
    "running_fake_slack",
    "serve_asgi_on_loopback",
]


@dataclass(frozen=True)
class SlackCall:
    """One Web API call as the fake saw it, with the answer it gave."""

    method: str
    args: dict[str, Any]
    token: str | None = field(repr=False)
    at: float
    """When it came, by the stand-in's clock (`time.monotonic` unless a test gave another)."""
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)
    limited_by: str | None = None
    """The rate-limit bucket that refused this call (tiers on), e.g. "T1 chat.postMessage C1"."""
    team_id: str | None = None
    """The workspace of the call's token (None for an unknown token or `oauth.v2.access`)."""

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.response.get("ok") is True

    @property
    def error(self) -> str | None:
        return None if self.ok else str(self.response.get("error"))


@dataclass
class PostedMessage:
    """A message in a channel's history; `chat.update` edits it in place."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    user: str
    bot_id: str
    app_id: str
    team: str
    thread_ts: str | None = None
    reply_broadcast: bool = False
    metadata: dict[str, Any] | None = None
    edits: int = 0

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts


@dataclass(frozen=True)
class EphemeralMessage:
    channel: str
    user: str
    text: str
    blocks: list[dict[str, Any]]
    message_ts: str
    thread_ts: str | None


@dataclass(frozen=True)
class ResponsePost:
    """A POST to a `response_url`; `accepted` is False past Slack's limit or after expiry."""

    response_id: str
    body: dict[str, Any]
    at: float
    accepted: bool


@dataclass(frozen=True)
class MessagePosted:
    """A new channel message or thread reply (a copy: later updates do not change it)."""

    message: PostedMessage


@dataclass(frozen=True)
class MessageUpdated:
    """`chat.update` changed a message; `message` is a copy of it as it now stands."""

    message: PostedMessage


@dataclass(frozen=True)
class EphemeralPosted:
    ephemeral: EphemeralMessage


@dataclass(frozen=True)
class ResponsePosted:
    """An accepted post to a `response_url` (a rejected one changes nothing, so is not told)."""

    response: ResponsePost


@dataclass(frozen=True)
class ViewOpened:
    """`views.open`: a modal is now in front of the user whose trigger opened it."""

    view: dict[str, Any]


@dataclass(frozen=True)
class ViewUpdated:
    view: dict[str, Any]


@dataclass(frozen=True)
class HomePublished:
    user_id: str
    view: dict[str, Any]


StandinEvent = (
    MessagePosted
    | MessageUpdated
    | EphemeralPosted
    | ResponsePosted
    | ViewOpened
    | ViewUpdated
    | HomePublished
)
"""What a person in the workspace would see change, told to `FakeSlack.subscribe()` queues."""


@dataclass
class FakeUser:
    id: str
    name: str
    team_id: str
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_bot: bool = False
    deleted: bool = False
    is_restricted: bool = False
    """A multi-channel guest (single-channel guests are also `is_ultra_restricted`)."""
    is_ultra_restricted: bool = False
    tz: str = "Europe/London"
    """The IANA zone Slack reports for the person (`users.info` `tz`)."""
    grid_teams: tuple[str, ...] = ()
    """Enterprise Grid: the workspaces of the org this person belongs to (`enterprise_user`)."""

    def to_slack(self) -> dict[str, Any]:
        grid = {"enterprise_user": {"teams": list(self.grid_teams)}} if self.grid_teams else {}
        return {
            **grid,
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "real_name": self.name.title(),
            "deleted": self.deleted,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_primary_owner,
            "is_restricted": self.is_restricted or self.is_ultra_restricted,
            "is_ultra_restricted": self.is_ultra_restricted,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "tz": self.tz,
            "profile": {"display_name": self.name, "real_name": self.name.title()},
        }


@dataclass
class FakeChannel:
    id: str
    name: str
    is_private: bool = False
    is_archived: bool = False
    is_member: bool = True
    members: list[str] = field(default_factory=list)
    """User ids in the channel (for conversations.members); the bot is implied by is_member."""

    def to_slack(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private,
            "is_group": self.is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_member": self.is_member,
            "created": 1_600_000_000,
            "creator": "U0CREATOR",
        }


@dataclass(frozen=True)
class _Identity:
    team_id: str
    user_id: str
    bot_id: str
    enterprise_id: str | None = None
    is_enterprise_install: bool = False
    expires_at: float | None = None
    execution_id: str | None = None
    """Set for a workflow step's token (`xwfp-…`): it works for that execution alone."""


@dataclass(frozen=True)
class StepCompletion:
    """A `functions.completeSuccess` (`outputs`) or `functions.completeError` (`error`)."""

    execution_id: str
    outputs: dict[str, Any] | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class _Fault:
    error: str
    status: int
    retry_after: int | None
    remaining: int
    after_acting: bool = False
    drop: bool = False
    when: Callable[[dict[str, Any]], bool] | None = None
    """Only calls whose arguments pass this are failed (and counted); None: every call."""


class _DropConnection(Exception):
    """Raised by a fault to close the connection without any answer (a network cut)."""


@dataclass
class _RandomFault:
    """A share of a method's calls fail: before the call (nothing done) or after it (done)."""

    rate: float
    error: str
    status: int
    after: bool
    rng: random.Random

    def hits(self, after: bool) -> bool:
        return self.after == after and self.rng.random() < self.rate


def _channel_page(channels: list[FakeChannel], args: dict[str, Any]) -> dict[str, Any]:
    """One page of a conversations list: `limit` (at most 1000, default 100) from `cursor`."""
    limit = min(int(args.get("limit") or 100), 1000)
    start = int(args.get("cursor") or 0)
    page = channels[start : start + limit]
    more = start + limit < len(channels)
    return {
        "channels": [c.to_slack() for c in page],
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


class _ApiFailure(Exception):
    """Raised by a method handler to answer `{"ok": false, "error": ...}` like Slack."""

    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        messages: list[str] | None = None,
        limited_by: str | None = None,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.messages = messages or []
        self.limited_by = limited_by

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


def _flag(value: Any) -> bool:
    return value is True or value in ("true", "1", 1)


def _ts_key(ts: str) -> int:
    seconds, _, micros = ts.partition(".")
    return int(seconds) * 1_000_000 + int(micros.ljust(6, "0")[:6] or 0)


def _block_errors(blocks: Any, limit: int) -> list[str]:
    """Slack's `invalid_blocks` reasons, found by slack_sdk's models (they know Slack's limits)."""
    if not isinstance(blocks, list):
        return ["[ERROR] must provide an array [json-pointer:/blocks]"]
    if len(blocks) > limit:
        return [f"[ERROR] no more than {limit} items allowed [json-pointer:/blocks]"]
    errors = []
    for index, raw in enumerate(blocks):
        pointer = f"[json-pointer:/blocks/{index}]"
        if not isinstance(raw, dict):
            errors.append(f"[ERROR] must be an object {pointer}")
            continue
        try:
            parsed = Block.parse(raw)
            if parsed is None:
                errors.append(f"[ERROR] unsupported type {raw.get('type')!r} {pointer}")
            else:
                parsed.validate_json()
        except Exception as exc:  # slack_sdk raises several types for malformed input
            errors.append(f"[ERROR] {exc} {pointer}")
    return errors


class FakeSlack:
    """State and behaviour of the fake workspace; `running_fake_slack()` serves it over HTTP."""

    def __init__(
        self,
        *,
        bot_token: str = "xoxb-test",  # noqa: S107 - the stand-in's own token, not a secret
        team_id: str = "T0TEST",
        team_domain: str = "skyvia-test",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0TEST",
        validate_blocks: bool = True,
        tiers: SlackTiers | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`validate_blocks=False` skips checking Block Kit with slack_sdk's models: benchmarks
        post tens of thousands of messages the test suite has already validated, and that
        check would make the stand-in, not the bot, what they measure.

        `tiers`: Slack's rate limits (`SlackTiers.documented()`), off by default; `clock` (in
        seconds, monotonic) is what their buckets refill by, so a test can move time itself."""
        self.bot_token = bot_token
        self.team_id = team_id
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.validate_blocks = validate_blocks
        self.base_url: str | None = None
        self.calls: list[SlackCall] = []
        self.warnings: list[str] = []
        self._tokens: dict[str, _Identity] = {bot_token: _Identity(team_id, bot_user_id, bot_id)}
        self.oauth = OAuthStandin(self._add_issued_token, app_id=app_id)
        """Installs through OAuth: `configure()` the app, `approve()` an install for a code."""
        self.socket_mode_url: str | None = None
        """Answer of apps.connections.open; set by `socket_mode_standin.running_socket_mode`."""
        self._users: dict[str, FakeUser] = {}
        self._usergroups: dict[str, list[str]] = {}
        self._channels: dict[str, FakeChannel] = {}
        self._channel_failures: dict[str, str] = {}
        self._faults: dict[str, list[_Fault]] = {}
        self._random_faults: dict[str, list[_RandomFault]] = {}
        self._latency = 0.0
        self._clock = clock
        self._limiter = TierLimiter(tiers, clock) if tiers is not None else None
        self._call_counts: Counter[str] = Counter()
        self._limited_counts: Counter[str] = Counter()
        self._method_latency: dict[str, float] = {}
        self._messages: list[PostedMessage] = []
        # Indexes over `_messages` (never removed from), so lookups stay O(1) at benchmark sizes.
        self._by_ts: dict[tuple[str, str], PostedMessage] = {}
        self._replies: dict[tuple[str, str], list[PostedMessage]] = {}
        self._ephemerals: list[EphemeralMessage] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._home_views: dict[str, dict[str, Any]] = {}
        self._responses: list[ResponsePost] = []
        self._expired_responses: set[str] = set()
        self._completions: list[StepCompletion] = []
        self._open_steps: set[str] = set()
        self._last_ts_micros = 0
        self._serial = 0
        self._subscribers: list[asyncio.Queue[StandinEvent]] = []
        self._servers: list[uvicorn.Server] = []
        """The servers serving this stand-in (a `drop` fault closes a connection of theirs)."""

    # ----- configuration -------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        """What the bot gets as `SLACK_API_URL` (slack_sdk appends the method name)."""
        return f"{self._require_base_url()}/api/"

    def add_token(self, token: str, *, team_id: str, user_id: str, bot_id: str) -> None:
        """Another installation's bot token, for multi-workspace (OAuth) tests."""
        self._tokens[token] = _Identity(team_id, user_id, bot_id)

    def _add_issued_token(self, issued: IssuedToken) -> None:
        self._tokens[issued.token] = _Identity(
            issued.team_id or "",
            issued.bot_user_id,
            issued.bot_id,
            issued.enterprise_id,
            issued.is_enterprise_install,
            issued.expires_at,
        )

    def step_token(self, execution_id: str) -> str:
        """The `bot_access_token` Slack gives a `function_executed` event: it acts for the app
        and completes this one execution; once the step is completed it is revoked."""
        token = f"xwfp-{self.team_id}-{execution_id}"
        self._tokens[token] = _Identity(
            self.team_id, self.bot_user_id, self.bot_id, execution_id=execution_id
        )
        self._open_steps.add(execution_id)
        return token

    def completions(self, execution_id: str | None = None) -> list[StepCompletion]:
        """Every accepted `functions.complete*` call, of one execution when given."""
        return [c for c in self._completions if execution_id in (None, c.execution_id)]

    def add_user(
        self,
        user_id: str,
        *,
        name: str | None = None,
        is_admin: bool = False,
        is_owner: bool = False,
        is_primary_owner: bool = False,
        is_bot: bool = False,
        deleted: bool = False,
        team_id: str | None = None,
        guest: str | None = None,
        tz: str = "Europe/London",
        grid_teams: tuple[str, ...] = (),
    ) -> FakeUser:
        """A user of `team_id` (default: the stand-in's own team; another one is a Slack
        Connect member from another organisation, unless `grid_teams`, their Enterprise Grid
        org's workspaces, include ours). `guest`: "multi" or "single" channel."""
        if guest not in (None, "multi", "single"):
            raise ValueError("guest is 'multi', 'single' or None")
        user = FakeUser(
            id=user_id,
            name=name or user_id.lower(),
            team_id=team_id or self.team_id,
            is_admin=is_admin or is_owner or is_primary_owner,
            is_owner=is_owner or is_primary_owner,
            is_primary_owner=is_primary_owner,
            is_bot=is_bot,
            deleted=deleted,
            is_restricted=guest is not None,
            is_ultra_restricted=guest == "single",
            tz=tz,
            grid_teams=grid_teams,
        )
        self._users[user_id] = user
        return user

    def add_usergroup(self, usergroup_id: str, members: list[str]) -> None:
        self._usergroups[usergroup_id] = list(members)

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str | None = None,
        is_private: bool = False,
        is_archived: bool = False,
        is_member: bool = True,
        members: list[str] | None = None,
    ) -> FakeChannel:
        """Register a channel; unregistered channels accept posts as a public channel would."""
        channel = FakeChannel(
            id=channel_id,
            name=name or channel_id.lower(),
            is_private=is_private,
            is_archived=is_archived,
            is_member=is_member,
            members=list(members or []),
        )
        self._channels[channel_id] = channel
        return channel

    def channel(self, channel_id: str) -> FakeChannel:
        return self._channels[channel_id]

    def seed_message(self, channel: str, text: str) -> PostedMessage:
        """A top-level message the bot posted earlier, added without an HTTP call or a recorded
        call (benchmarks seed thousands of lifecycle cards this way); subscribers are not told."""
        identity = self._tokens[self.bot_token]
        message = PostedMessage(
            channel=channel,
            ts=self._next_ts(),
            text=text,
            blocks=[],
            user=identity.user_id,
            bot_id=identity.bot_id,
            app_id=self.app_id,
            team=identity.team_id,
        )
        self._store_message(message)
        return message

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        status: int = 429,
        retry_after: int | None = 1,
        times: int = 1,
        *,
        after_acting: bool = False,
        drop: bool = False,
        when: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with `error` (429s carry `Retry-After`).

        `after_acting`: the call takes effect first (a message is stored) and only then fails,
        as when Slack posts and its answer is lost. `drop`: instead of any answer, the
        connection is closed (with `after_acting`, after the call took effect). `when`: only
        calls whose arguments it accepts (e.g. a message of one kind) meet the fault.
        """
        fault = _Fault(
            error=error,
            status=status,
            retry_after=retry_after if status == 429 else None,
            remaining=times,
            after_acting=after_acting,
            drop=drop,
            when=when,
        )
        self._faults.setdefault(method, []).append(fault)

    @property
    def tiers(self) -> SlackTiers | None:
        """The rate limits in force, or None (the default: every call is answered)."""
        return self._limiter.tiers if self._limiter is not None else None

    def enable_tiers(
        self, tiers: SlackTiers | None = None, *, clock: Callable[[], float] | None = None
    ) -> None:
        """From now on, answer calls past `tiers` (default: `SlackTiers.documented()`) with 429
        `ratelimited` and `Retry-After`, doing nothing. Every bucket starts full again;
        `clock` (as in the constructor) lets a test move their time itself from here on."""
        if clock is not None:
            self._clock = clock
        self._limiter = TierLimiter(tiers or SlackTiers.documented(), self._clock)

    def disable_tiers(self) -> None:
        self._limiter = None

    def limit_history(self, *, every: float = 60.0, messages: int = 15) -> None:
        """Slack's limits for apps distributed outside the Marketplace: `conversations.history`
        and `.replies` answer one call per `every` seconds per team and method (else 429
        `ratelimited` with `Retry-After`), at most `messages` messages a page. Other limits
        in force stay; every bucket starts full again."""
        tiers = self.tiers or SlackTiers()
        self.enable_tiers(tiers.with_history_limit(Limit(60 / every, burst=1), messages))

    def fail_randomly(
        self,
        method: str,
        rate: float,
        *,
        error: str = "internal_error",
        status: int = 500,
        after: bool = False,
        seed: int | None = None,
    ) -> None:
        """From now on a share `rate` of `method`'s calls fail with `status`.

        With `after=True` the call takes effect first (a message is stored and seen by
        subscribers) and only its answer is replaced: Slack posted, then answered 500 — the
        client cannot tell. Otherwise nothing happens (a 429 carries `Retry-After: 1`). Rules
        add up (a soak sets 429s and 500-after-post on one method); `rate=0` removes them all.
        """
        if rate <= 0:
            self._random_faults.pop(method, None)
            return
        rule = _RandomFault(rate, error, status, after, random.Random(seed))
        self._random_faults.setdefault(method, []).append(rule)

    def fail_channel(self, channel_id: str, error: str) -> None:
        """Every chat.* call to this channel fails with `error` until `heal_channel`."""
        self._channel_failures[channel_id] = error

    def heal_channel(self, channel_id: str) -> None:
        self._channel_failures.pop(channel_id, None)

    def set_latency(self, seconds: float, *, method: str | None = None) -> None:
        """Answer every call (or only calls of `method`) `seconds` late."""
        if method is None:
            self._latency = seconds
        else:
            self._method_latency[method] = seconds

    def response_url(self, response_id: str) -> str:
        return f"{self._require_base_url()}/response/{response_id}"

    def expire_response_url(self, response_id: str) -> None:
        """Make a response_url behave as after Slack's 30 minutes (404 `expired_url`)."""
        self._expired_responses.add(response_id)

    # ----- watching ------------------------------------------------------------------------------

    def subscribe(self) -> asyncio.Queue[StandinEvent]:
        """A queue that receives every visible change from now on (the console reads one).

        Unbounded on purpose: the stand-in must never stall the bot because a reader is slow.
        """
        queue: asyncio.Queue[StandinEvent] = asyncio.Queue()
        self._subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[StandinEvent]) -> None:
        if queue in self._subscribers:
            self._subscribers.remove(queue)

    def _publish(self, event: StandinEvent) -> None:
        for queue in self._subscribers:
            queue.put_nowait(event)

    def message_payload(self, channel: str, ts: str) -> dict[str, Any]:
        """The message as Slack puts it in a `block_actions` payload when a button on it is
        clicked (what `SlackRequestSender.block_action(message=...)` takes)."""
        return self._render(self.message(channel, ts), include_metadata=False)

    # ----- inspection ----------------------------------------------------------------------------

    def calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    def call_counts(self) -> dict[str, int]:
        """Web API calls per method since the start or `reset_call_counts()`, answered or not."""
        return dict(self._call_counts)

    def rate_limited_counts(self) -> dict[str, int]:
        """Calls per method the tiers answered 429 (injected faults' 429s are not counted)."""
        return dict(self._limited_counts)

    def rate_limited_calls(self, method: str | None = None) -> int:
        """How many calls (of `method`, or of all methods) the tiers answered 429."""
        if method is not None:
            return self._limited_counts[method]
        return sum(self._limited_counts.values())

    def reset_call_counts(self) -> None:
        """Zero both counters (a benchmark's measured phase starts); `calls` is kept."""
        self._call_counts.clear()
        self._limited_counts.clear()

    def messages(self, channel: str | None = None) -> list[PostedMessage]:
        """Messages as they stand now (after updates), in the order they were posted."""
        return [m for m in self._messages if channel is None or m.channel == channel]

    def message(self, channel: str, ts: str) -> PostedMessage:
        message = self._by_ts.get((channel, ts))
        if message is not None:
            return message
        raise AssertionError(f"no message {ts} in {channel}; seen:\n{self.summary()}")

    def thread(self, channel: str, thread_ts: str) -> list[PostedMessage]:
        """Replies in a thread, oldest first, without the parent."""
        return list(self._replies.get((channel, thread_ts), ()))

    def ephemerals(
        self, channel: str | None = None, user: str | None = None
    ) -> list[EphemeralMessage]:
        return [
            e
            for e in self._ephemerals
            if (channel is None or e.channel == channel) and (user is None or e.user == user)
        ]

    def responses(self, response_id: str, *, include_rejected: bool = False) -> list[ResponsePost]:
        return [
            r
            for r in self._responses
            if r.response_id == response_id and (r.accepted or include_rejected)
        ]

    def all_responses(self) -> list[ResponsePost]:
        return list(self._responses)

    def opened_views(self) -> list[dict[str, Any]]:
        """Modals opened with views.open, in order, as last updated."""
        return [v for v in self._views.values() if v.get("type") != "home"]

    def view(self, view_id: str) -> dict[str, Any]:
        return self._views[view_id]

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        return self._home_views.get(user_id)

    def summary(self) -> str:
        """One line per call, for assertion messages; never includes tokens."""
        if not self.calls:
            return "  (no Slack calls)"
        return "\n".join(f"  {i}. {_describe(call)}" for i, call in enumerate(self.calls, 1))

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[SlackCall], bool] | None = None,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[SlackCall]:
        """Poll until `count` calls of `method` match `predicate`; returns all matches so far.

        Failed calls (429, errors) are recorded too; filter with `lambda c: c.ok` when it matters.
        """

        def matches() -> list[SlackCall]:
            return [c for c in self.calls_to(method) if predicate is None or predicate(c)]

        return await self._poll(matches, count, timeout, f"matching {method} call(s)")

    async def wait_for_responses(
        self,
        response_id: str,
        count: int = 1,
        timeout: float = 10.0,
    ) -> list[ResponsePost]:
        """Poll until `count` accepted posts reached `response_url(response_id)` (Bolt's
        `respond()` runs after `ack()`, so it lands after the HTTP answer)."""
        return await self._poll(
            lambda: self.responses(response_id), count, timeout, f"post(s) to {response_id}"
        )

    async def _poll(
        self,
        found: Callable[[], list[_T]],
        count: int,
        timeout: float,
        what: str,
    ) -> list[_T]:
        held, _ = await poll(lambda: len(found()) >= count, timeout=timeout, interval=0.02)
        matched = found()
        if not held:
            raise AssertionError(
                f"waited {timeout}s for {count} {what}, got {len(matched)}; "
                f"Slack calls seen:\n{self.summary()}"
            )
        return matched

    # ----- HTTP ----------------------------------------------------------------------------------

    def asgi_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._handle_api, methods=["GET", "POST"]),
                Route("/response/{response_id}", self._handle_response_url, methods=["POST"]),
            ]
        )

    async def _handle_api(self, request: Request) -> JSONResponse:
        method = request.path_params["method"]
        latency = self._method_latency.get(method, self._latency)
        if latency:
            await asyncio.sleep(latency)
        token: str | None = None
        args: dict[str, Any] = {}
        headers: dict[str, str] = {}
        limited_by: str | None = None
        try:
            args = await _read_args(request)
            if method == "oauth.v2.access":  # the app's credentials, not a token, authenticate
                authorization = request.headers.get("authorization")
                received, args = args, {k: args[k] for k in ("grant_type", "code") if k in args}
                status, body = 200, {"ok": True, **self.oauth.access(received, authorization)}
            else:
                body_token = args.pop("token", None)
                token = _bearer(request.headers.get("authorization")) or body_token
                status, body = 200, self._dispatch(method, args, token, headers)
        except _ApiFailure as failure:
            status, body, limited_by = failure.status, failure.body(), failure.limited_by
        except OAuthFailure as failure:
            status, body = 200, {"ok": False, "error": failure.error}
        except _DropConnection:
            status, body = 0, {"ok": False, "error": "connection_dropped"}
            self._drop(request)
            await asyncio.sleep(0)  # let the server see the connection is gone
        self._call_counts[method] += 1
        if limited_by is not None:
            self._limited_counts[method] += 1
        identity = self._tokens.get(token) if token else None
        team_id = identity.team_id if identity is not None else None
        call = SlackCall(method, args, token, self._clock(), status, body, limited_by, team_id)
        self.calls.append(call)
        return JSONResponse(body, status_code=status, headers=headers)

    def _drop(self, request: Request) -> None:
        """Closes the connection `request` came on, so the client gets no answer at all."""
        for server in self._servers:
            for connection in list(server.server_state.connections):
                cycle = getattr(connection, "cycle", None)
                if cycle is not None and cycle.scope is request.scope:
                    connection.transport.abort()
                    return

    def _dispatch(
        self, method: str, args: dict[str, Any], token: str | None, headers: dict[str, str]
    ) -> dict[str, Any]:
        if not token:
            raise _ApiFailure("not_authed")
        identity = self._tokens.get(token)
        if identity is None:
            raise _ApiFailure("invalid_auth")
        if identity.expires_at is not None and identity.expires_at <= time.time():
            raise _ApiFailure("token_expired")
        if identity.execution_id is not None and identity.execution_id not in self._open_steps:
            raise _ApiFailure("token_revoked")  # a step's token dies with its completion
        fault = self._next_fault(method, args)
        if fault is not None and not fault.after_acting:
            self._fail(fault, headers)
        self._admit(method, identity, args, headers)
        self._inject_random_fault(method, headers, after=False)
        handler = self._handlers().get(method)
        if handler is None:
            raise _ApiFailure("unknown_method")
        answer = {"ok": True, **handler(args, identity)}
        if fault is not None:
            self._fail(fault, headers)
        self._inject_random_fault(method, headers, after=True)
        return answer

    def _inject_random_fault(self, method: str, headers: dict[str, str], *, after: bool) -> None:
        random_fault = next((f for f in self._random_faults.get(method, []) if f.hits(after)), None)
        if random_fault is None:
            return
        if random_fault.status == 429:
            headers["Retry-After"] = "1"
        raise _ApiFailure(random_fault.error, status=random_fault.status)

    def _next_fault(self, method: str, args: dict[str, Any]) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        if fault.when is not None and not fault.when(args):
            return None
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.pop(0)
        return fault

    def _fail(self, fault: _Fault, headers: dict[str, str]) -> None:
        if fault.drop:
            raise _DropConnection()
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        raise _ApiFailure(fault.error, status=fault.status)

    def _admit(
        self, method: str, identity: _Identity, args: dict[str, Any], headers: dict[str, str]
    ) -> None:
        """The tiers' verdict before the method runs: a refused call does nothing (nothing is
        posted or edited), as with Slack, and is answered 429 with `Retry-After`."""
        if self._limiter is None:
            return
        channel = _optional_str(args.get("channel"))
        refused = self._limiter.admit(identity.team_id, method, channel)
        if refused is not None:
            headers["Retry-After"] = str(refused.retry_after)
            raise _ApiFailure("ratelimited", status=429, limited_by=refused.bucket)
        page = self._limiter.page_limit(method)
        if page is not None:
            args["limit"] = min(int(args.get("limit") or page), page)

    async def _handle_response_url(self, request: Request) -> JSONResponse:
        response_id = request.path_params["response_id"]
        if self._latency:
            await asyncio.sleep(self._latency)
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"ok": False, "error": "invalid_payload"}, status_code=400)
        used = len(self.responses(response_id))
        expired = response_id in self._expired_responses
        accepted = not expired and used < RESPONSE_URL_MAX_POSTS
        post = ResponsePost(response_id, body, time.monotonic(), accepted)
        self._responses.append(post)
        if not accepted:
            error = "expired_url" if expired else "used_url"
            return JSONResponse({"ok": False, "error": error}, status_code=404)
        self._publish(ResponsePosted(post))
        return JSONResponse({"ok": True})

    def _require_base_url(self) -> str:
        if self.base_url is None:
            raise RuntimeError("the fake Slack is not serving; use running_fake_slack()")
        return self.base_url

    # ----- Web API methods -----------------------------------------------------------------------

    def _handlers(self) -> dict[str, Callable[[dict[str, Any], _Identity], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "functions.completeSuccess": self._functions_complete,
            "functions.completeError": self._functions_complete,
            "views.open": self._views_open,
            "views.publish": self._views_publish,
            "views.update": self._views_update,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.list": self._conversations_list,
            "users.conversations": self._users_conversations,
            "apps.connections.open": self._apps_connections_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "conversations.join": self._conversations_join,
        }

    def _auth_test(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        return {
            "url": f"https://{self.team_domain}.slack.com/",
            "team": self.team_domain,
            "user": "skyvia-bot",
            "team_id": identity.team_id,
            "user_id": identity.user_id,
            "bot_id": identity.bot_id,
            "enterprise_id": identity.enterprise_id,
            "is_enterprise_install": identity.is_enterprise_install,
        }

    def _chat_post_message(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        channel = self._postable_channel(args)
        text, blocks = self._checked_content("chat.postMessage", args)
        thread_ts = _optional_str(args.get("thread_ts"))
        parent = self._by_ts.get((channel, thread_ts)) if thread_ts else None
        if thread_ts and parent is None:
            self.warnings.append(f"chat.postMessage: thread_ts {thread_ts} unknown in {channel}")
        elif parent is not None and parent.is_reply:
            # Slack has no thread inside a thread: a reply belongs in its parent's thread.
            self.warnings.append(f"chat.postMessage: thread_ts {thread_ts} is a reply in {channel}")
        message = PostedMessage(
            channel=channel,
            ts=self._next_ts(),
            text=text,
            blocks=blocks,
            user=identity.user_id,
            bot_id=identity.bot_id,
            app_id=self.app_id,
            team=identity.team_id,
            thread_ts=thread_ts,
            reply_broadcast=bool(thread_ts) and _flag(args.get("reply_broadcast")),
            metadata=args.get("metadata") if isinstance(args.get("metadata"), dict) else None,
        )
        self._store_message(message)
        self._publish(MessagePosted(dataclasses.replace(message)))
        return {
            "channel": channel,
            "ts": message.ts,
            "message": self._render(message, include_metadata=True),
        }

    def _chat_update(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        channel = self._postable_channel(args)
        ts = _optional_str(args.get("ts"))
        if not ts:
            raise _ApiFailure("invalid_arguments", messages=["[ERROR] missing required field: ts"])
        message = self._by_ts.get((channel, ts))
        if message is None:
            raise _ApiFailure("message_not_found")
        if message.user != identity.user_id:
            raise _ApiFailure("cant_update_message")
        text, blocks = self._checked_content("chat.update", args)
        if "text" in args:
            message.text = text
        if "blocks" in args:
            message.blocks = blocks
        if isinstance(args.get("metadata"), dict):
            message.metadata = args["metadata"]
        message.edits += 1
        self._publish(MessageUpdated(dataclasses.replace(message)))
        rendered = self._render(message, include_metadata=True)
        return {"channel": channel, "ts": ts, "text": message.text, "message": rendered}

    def _chat_get_permalink(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        """A link to a stored message, in Slack's shape (`.../archives/C1/p1700000000000100`)."""
        channel = self._readable_channel(args)
        ts = _optional_str(args.get("message_ts"))
        message = self._by_ts.get((channel, ts)) if ts else None
        if message is None or ts is None:
            raise _ApiFailure("message_not_found")
        link = f"https://{self.team_domain}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if message.thread_ts:
            link += f"?thread_ts={message.thread_ts}&cid={channel}"
        return {"channel": channel, "permalink": link}

    def _functions_complete(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        """Ends a step: only with that execution's own token, and only once (Slack revokes the
        token when the step completes, so a second call is refused)."""
        execution_id = _optional_str(args.get("function_execution_id"))
        if execution_id is None:
            raise _ApiFailure("invalid_arguments")
        if identity.execution_id != execution_id:
            raise _ApiFailure("not_allowed_token_type")
        outputs = args.get("outputs")
        if isinstance(outputs, str):
            outputs = json.loads(outputs)
        error = _optional_str(args.get("error"))
        if error is None and not isinstance(outputs, dict):
            raise _ApiFailure("invalid_arguments")
        self._open_steps.discard(execution_id)
        self._completions.append(
            StepCompletion(execution_id, outputs if error is None else None, error)
        )
        return {}

    def _chat_post_ephemeral(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        channel = self._postable_channel(args)
        user = _optional_str(args.get("user"))
        if not user:
            raise _ApiFailure("user_not_in_channel")
        text, blocks = self._checked_content("chat.postEphemeral", args)
        ephemeral = EphemeralMessage(
            channel=channel,
            user=user,
            text=text,
            blocks=blocks,
            message_ts=self._next_ts(),
            thread_ts=_optional_str(args.get("thread_ts")),
        )
        self._ephemerals.append(ephemeral)
        self._publish(EphemeralPosted(ephemeral))
        return {"message_ts": ephemeral.message_ts}

    def _views_open(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        if not args.get("trigger_id"):
            raise _ApiFailure("invalid_trigger_id")
        view = self._store_view(args.get("view"), identity, view_id=None)
        self._publish(ViewOpened(view))
        return {"view": view}

    def _views_publish(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        user_id = _optional_str(args.get("user_id"))
        if not user_id:
            raise _ApiFailure("invalid_arguments", messages=["[ERROR] missing user_id"])
        raw = args.get("view")
        if not isinstance(raw, dict) or raw.get("type") != "home":
            raise _ApiFailure("invalid_arguments", messages=["[ERROR] view type must be home"])
        previous = self._home_views.get(user_id)
        view = self._store_view(raw, identity, view_id=previous["id"] if previous else None)
        self._home_views[user_id] = view
        self._publish(HomePublished(user_id, view))
        return {"view": view}

    def _views_update(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        view_id = _optional_str(args.get("view_id"))
        if not view_id and args.get("external_id"):
            view_id = next(
                (v["id"] for v in self._views.values() if v["external_id"] == args["external_id"]),
                None,
            )
        if not view_id or view_id not in self._views:
            raise _ApiFailure("not_found")
        view = self._store_view(args.get("view"), identity, view_id=view_id)
        self._publish(ViewUpdated(view))
        return {"view": view}

    def _users_info(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        user = self._users.get(str(args.get("user", "")))
        if user is None:
            raise _ApiFailure("user_not_found")
        return {"user": user.to_slack()}

    def _usergroups_users_list(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        members = self._usergroups.get(str(args.get("usergroup", "")))
        if members is None:
            raise _ApiFailure("no_such_subteam")
        return {"users": list(members)}

    def _conversations_info(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        channel = self._channels.get(str(args.get("channel", "")))
        if channel is None or (channel.is_private and not channel.is_member):
            raise _ApiFailure("channel_not_found")
        return {"channel": channel.to_slack()}

    def _conversations_list(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        """The channels the bot can see (public ones; private ones it is in), a page at a time."""
        channels = [c for c in self._listable(args) if not c.is_private or c.is_member]
        return _channel_page(channels, args)

    def _users_conversations(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        """The channels `user` is in; a private one only if the bot is in it too (its token)."""
        user = str(args.get("user", ""))
        channels = [
            c
            for c in self._listable(args)
            if user in c.members and (not c.is_private or c.is_member)
        ]
        return _channel_page(channels, args)

    def _listable(self, args: dict[str, Any]) -> list[FakeChannel]:
        types = str(args.get("types") or "public_channel").split(",")
        exclude_archived = str(args.get("exclude_archived", "")).lower() in ("1", "true")
        return [
            c
            for c in sorted(self._channels.values(), key=lambda c: c.id)
            if ("private_channel" if c.is_private else "public_channel") in types
            and not (exclude_archived and c.is_archived)
        ]

    def _conversations_members(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        channel = self._channels.get(str(args.get("channel", "")))
        if channel is None or (channel.is_private and not channel.is_member):
            raise _ApiFailure("channel_not_found")
        return {"members": list(channel.members), "response_metadata": {"next_cursor": ""}}

    def _apps_connections_open(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        """Socket Mode: the WebSocket URL of `socket_mode_url` (see `socket_mode_standin`)."""
        if self.socket_mode_url is None:
            raise _ApiFailure("socket_mode_not_enabled")
        return {"url": self.socket_mode_url}

    def _conversations_join(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        channel_id = str(args.get("channel", ""))
        channel = self._channels.get(channel_id) or self.add_channel(channel_id, is_member=False)
        if channel.is_private:
            raise _ApiFailure(
                "channel_not_found"
                if not channel.is_member
                else "method_not_supported_for_channel_type"
            )
        if channel.is_archived:
            raise _ApiFailure("is_archived")
        channel.is_member = True
        return {"channel": channel.to_slack()}

    def _conversations_history(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        channel = self._readable_channel(args)
        newest_first = [
            m
            for m in reversed(self._messages)
            if m.channel == channel and (not m.is_reply or m.reply_broadcast)
        ]
        window = [m for m in newest_first if _in_window(m.ts, args)]
        return self._page(window, args)

    def _conversations_replies(self, args: dict[str, Any], identity: _Identity) -> dict[str, Any]:
        channel = self._readable_channel(args)
        ts = _optional_str(args.get("ts"))
        anchor = self._by_ts.get((channel, ts)) if ts else None
        if anchor is None:
            raise _ApiFailure("thread_not_found")
        parent_ts = anchor.thread_ts or anchor.ts
        parent = self.message(channel, parent_ts)
        replies = [m for m in self.thread(channel, parent_ts) if _in_window(m.ts, args)]
        return self._page([parent, *replies], args)

    # ----- helpers for the methods ---------------------------------------------------------------

    def _postable_channel(self, args: dict[str, Any]) -> str:
        channel_id = _optional_str(args.get("channel"))
        if not channel_id:
            raise _ApiFailure("channel_not_found")
        if channel_id in self._channel_failures:
            raise _ApiFailure(self._channel_failures[channel_id])
        channel = self._channels.get(channel_id)
        if channel is not None:
            if channel.is_private and not channel.is_member:
                raise _ApiFailure("channel_not_found")
            if channel.is_archived:
                raise _ApiFailure("is_archived")
        return channel_id

    def _readable_channel(self, args: dict[str, Any]) -> str:
        channel_id = _optional_str(args.get("channel"))
        channel = self._channels.get(channel_id or "")
        if not channel_id or (channel is not None and not channel.is_member):
            raise _ApiFailure("channel_not_found" if not channel_id else "not_in_channel")
        return channel_id

    def _checked_content(
        self, method: str, args: dict[str, Any]
    ) -> tuple[str, list[dict[str, Any]]]:
        text = args.get("text")
        text = text if isinstance(text, str) else ""
        blocks = args.get("blocks")
        if blocks in (None, "", []):
            blocks = []
        elif self.validate_blocks:
            errors = _block_errors(blocks, MAX_MESSAGE_BLOCKS)
            if errors:
                raise _ApiFailure("invalid_blocks", messages=errors)
        has_attachments = bool(args.get("attachments"))
        if not text.strip() and not blocks and not has_attachments:
            raise _ApiFailure("no_text")
        if blocks and not text.strip():
            self.warnings.append(f"{method}: blocks without a text fallback")
        return text, blocks

    def _store_view(self, raw: Any, identity: _Identity, *, view_id: str | None) -> dict[str, Any]:
        if not isinstance(raw, dict) or "type" not in raw:
            raise _ApiFailure("invalid_arguments", messages=["[ERROR] missing view"])
        errors = _block_errors(raw.get("blocks", []), MAX_VIEW_BLOCKS)
        if errors:
            raise _ApiFailure("invalid_arguments", messages=errors)
        view_id = view_id or f"V{self._next_serial():08d}"
        view = {
            **raw,
            "id": view_id,
            "team_id": identity.team_id,
            "app_id": self.app_id,
            "bot_id": identity.bot_id,
            "hash": f"{int(time.time())}.{self._next_serial()}",
            "private_metadata": raw.get("private_metadata", ""),
            "callback_id": raw.get("callback_id", ""),
            "external_id": raw.get("external_id", ""),
            "state": {"values": {}},
        }
        self._views[view_id] = view
        return view

    def _render(self, message: PostedMessage, *, include_metadata: bool) -> dict[str, Any]:
        """The message object as Slack returns it from chat.* and conversations.*."""
        rendered: dict[str, Any] = {
            "type": "message",
            "text": message.text,
            "user": message.user,
            "bot_id": message.bot_id,
            "app_id": message.app_id,
            "team": message.team,
            "ts": message.ts,
            "blocks": message.blocks,
        }
        if message.edits:
            rendered["edited"] = {"user": message.user, "ts": message.ts}
        if message.thread_ts:
            rendered["thread_ts"] = message.thread_ts
            if message.reply_broadcast:
                rendered["subtype"] = "thread_broadcast"
        replies = self.thread(message.channel, message.ts) if not message.is_reply else []
        if replies:
            rendered["thread_ts"] = message.ts
            rendered["reply_count"] = len(replies)
            rendered["reply_users"] = sorted({r.user for r in replies})
            rendered["latest_reply"] = replies[-1].ts
        if include_metadata and message.metadata is not None:
            rendered["metadata"] = message.metadata
        return rendered

    def _page(self, items: list[PostedMessage], args: dict[str, Any]) -> dict[str, Any]:
        limit = int(args.get("limit") or 100)
        start = int(args.get("cursor") or 0)
        page = items[start : start + limit]
        more = start + limit < len(items)
        include_metadata = _flag(args.get("include_all_metadata"))
        return {
            "messages": [self._render(m, include_metadata=include_metadata) for m in page],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def _next_ts(self) -> str:
        """Current time in Slack's `ts` format, strictly increasing like Slack's."""
        micros = max(time.time_ns() // 1000, self._last_ts_micros + 100)
        self._last_ts_micros = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_serial(self) -> int:
        self._serial += 1
        return self._serial

    def _store_message(self, message: PostedMessage) -> None:
        self._messages.append(message)
        self._by_ts[(message.channel, message.ts)] = message
        if message.is_reply:
            assert message.thread_ts is not None
            self._replies.setdefault((message.channel, message.thread_ts), []).append(message)


def _in_window(ts: str, args: dict[str, Any]) -> bool:
    """conversations.* `oldest`/`latest`/`inclusive` semantics (exclusive bounds by default)."""
    key = _ts_key(ts)
    inclusive = _flag(args.get("inclusive"))
    oldest, latest = args.get("oldest"), args.get("latest")
    if oldest not in (None, ""):
        bound = _ts_key(str(oldest))
        if key < bound or (key == bound and not inclusive):
            return False
    if latest not in (None, ""):
        bound = _ts_key(str(latest))
        if key > bound or (key == bound and not inclusive):
            return False
    return True


def _optional_str(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


async def _read_args(request: Request) -> dict[str, Any]:
    """Merge query, form and JSON arguments the way the Web API accepts them."""
    args: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    body = await request.body()
    if body and content_type == "application/json":
        try:
            parsed = json.loads(body)
        except ValueError as exc:
            raise _ApiFailure("invalid_json") from exc
        if not isinstance(parsed, dict):
            raise _ApiFailure("invalid_json")
        args.update(parsed)
    elif body:
        args.update(parse_qsl(body.decode(), keep_blank_values=True))
    for key in _JSON_ENCODED_ARGS:
        if isinstance(args.get(key), str) and args[key]:
            try:
                args[key] = json.loads(args[key])
            except ValueError as exc:
                raise _ApiFailure("invalid_arguments", messages=[f"[ERROR] bad {key}"]) from exc
    return args


def _describe(call: SlackCall) -> str:
    outcome = "ok" if call.ok else f"{call.status} {call.error}"
    details = [
        f"{key}={call.args[key]}"
        for key in ("channel", "ts", "thread_ts", "user", "user_id")
        if key in call.args
    ]
    text = call.args.get("text")
    if isinstance(text, str):
        details.append(f"text={text[:80]!r}")
    return f"{call.method} -> {outcome} {' '.join(details)}".rstrip()


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the test runner (Ctrl-C must stop pytest)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_asgi_on_loopback(
    app: ASGIApp,
    *,
    lifespan: str = "off",
    on_server: Callable[[uvicorn.Server], None] | None = None,
) -> AsyncIterator[str]:
    """Serve `app` with uvicorn on 127.0.0.1 and a free port; yields `http://127.0.0.1:PORT`.

    `on_server` is handed the uvicorn server before it starts (to reach its connections).

    The socket is bound before the server starts, so the port is known without racing for it.
    """
    # proto=IPPROTO_TCP, so asyncio turns TCP_NODELAY on for accepted connections (see the
    # simulator's `_bind`): without it keep-alive requests stall ~40 ms each.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        log_config=None,  # uvicorn's own records go wherever the host sends its logs
        log_level="warning",
        access_log=False,
        lifespan=lifespan,  # type: ignore[arg-type]
        timeout_graceful_shutdown=2,
    )
    server = _QuietServer(config)
    if on_server is not None:
        on_server(server)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def running_fake_slack(**options: Any) -> AsyncIterator[FakeSlack]:
    """A `FakeSlack` (options as its constructor) served on loopback for the block's duration."""
    slack = FakeSlack(**options)
    async with serve_asgi_on_loopback(
        slack.asgi_app(), on_server=slack._servers.append
    ) as base_url:
        slack.base_url = base_url
        yield slack
