"""Slack Web API clients: one instrumented client per bot token, all pointed at SLACK_API_URL.

Every Slack call the bot makes — Bolt's `respond`/`client` in listeners and the workers' posts —
goes through `InstrumentedWebClient`, so rate-limit retries, metrics and the one log line per
call are the same everywhere.

In OAuth mode a team's bot token comes from its installation (encrypted at rest), found for
Enterprise Grid workspaces too, and rotated here when the app has token rotation on and the token
is near expiry, as Bolt does for requests; the rotated installation is saved for both.

Clients of OAuth-installed teams are kept for reuse (each holds a connection pool), at most
`MAX_CACHED_CLIENTS` of them: the least recently used goes first and its pool is closed a grace
period later, once any call it was making has ended.

Which calls slack_sdk may retry by itself
-----------------------------------------
A 429 says Slack did nothing, so every call may be retried after `Retry-After`. A 500/503 or a
dropped connection says nothing about whether Slack acted: re-sending a call that reads or
overwrites (`conversations.history`, `chat.update`, `views.publish`) is harmless, but
re-sending one that creates something (`chat.postMessage`, `chat.postEphemeral`, `views.open`)
posts it twice whenever Slack had acted before failing. So those are never retried here: the
caller sees the unknown outcome, and the notifier settles it by reading the channel back
(`bot.slack.delivery.notifier`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import aiohttp
from cachetools import LRUCache
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.metrics import Metrics
from storage.repositories.worker_leases import WorkerLeaseRepository

if TYPE_CHECKING:
    from bot.slack.installation_store import EncryptedInstallationStore
    from storage.db import Database

log = logging.getLogger("bot.slack")

MAX_CACHED_CLIENTS = 1000
"""Teams whose clients are kept; more than post at once on any deployment we know of."""
CLOSE_EVICTED_AFTER = 120.0
"""Seconds before an evicted client's pool closes: longer than a call with its retries takes."""
ROTATE_BEFORE_MINUTES = 120
"""A rotating token is refreshed once it expires within this many minutes (Bolt's default)."""
ROTATION_LEASE = 30.0
"""Seconds one replica holds the turn to rotate a team's token: longer than an exchange takes,
and how long the others wait for a replica that died holding it."""
ROTATION_POLL = 0.1
"""Seconds between looks at a turn another replica holds."""
_ALWAYS_DUE = datetime(2000, 1, 1, tzinfo=UTC)

EnterpriseOf = Callable[[str], Awaitable[str | None]]
"""The Enterprise Grid org of a team, as the bindings recorded it (None outside Grid)."""


class InstrumentedWebClient(AsyncWebClient):
    """AsyncWebClient that counts and logs each call (method, outcome, time — never the token)."""

    metrics: Metrics | None = None

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        self._ensure_session()
        started = time.perf_counter()
        outcome = "ok"
        try:
            return await super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            outcome = str(exc.response.get("error", "error")) if exc.response else "error"
            raise
        except Exception as exc:
            outcome = type(exc).__name__
            raise
        finally:
            elapsed = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.slack_calls.labels(api_method, outcome).inc()
            log.debug(
                "slack call",
                extra={"method": api_method, "outcome": outcome, "ms": round(elapsed * 1000, 1)},
            )

    def _ensure_session(self) -> None:
        """One pooled aiohttp session per client, made in the loop that uses it.

        Without a session, slack_sdk opens and closes one (and a TCP connection) per call;
        the benchmark's watcher spent more time on that than on the posts themselves.
        """
        session = self.session
        if (
            session is None
            or session.closed
            or getattr(session, "_loop", None) is not asyncio.get_running_loop()
        ):
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout))

    async def aclose(self) -> None:
        if self.session is not None and not self.session.closed:
            await self.session.close()


CREATING_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.scheduleMessage",
        "chat.meMessage",
        "views.open",
        "views.push",
        "conversations.create",
        "files.upload",
        "files.completeUploadExternal",
    }
)
"""Web API methods whose every call makes something new: never re-sent on an unknown outcome."""


def method_of(request: HttpRequest) -> str:
    """The Web API method a retried request calls (the last part of its URL path)."""
    return urlsplit(request.url).path.rsplit("/", 1)[-1]


class _IdempotentOnly(AsyncRetryHandler):
    """Wraps a retry handler so that it never re-sends a call of `CREATING_METHODS`."""

    def __init__(self, inner: AsyncRetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self._inner = inner

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        # Asked after every response: the cheap status check first, the URL only on a failure.
        if not await self._inner._can_retry_async(
            state=state, request=request, response=response, error=error
        ):
            return False
        return method_of(request) not in CREATING_METHODS


_CALLER_PACES: ContextVar[bool] = ContextVar("slack_caller_paces", default=False)


@contextmanager
def callers_pace() -> Iterator[None]:
    """Within it, a 429 comes back to the caller at once instead of being slept out here.

    The outbox's senders keep Slack's pace themselves (`bot.slack.delivery.pacing`): a 429 must hold
    their whole bucket, which a retry handler sleeping inside one call cannot do.
    """
    token = _CALLER_PACES.set(True)
    try:
        yield
    finally:
        _CALLER_PACES.reset(token)


class _UnlessCallerPaces(AsyncRetryHandler):
    """Wraps the rate-limit retry handler: no retry inside `callers_pace()`."""

    def __init__(self, inner: AsyncRetryHandler) -> None:
        super().__init__(inner.max_retry_count, inner.interval_calculator)
        self._inner = inner

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if _CALLER_PACES.get():
            return False
        return await self._inner._can_retry_async(
            state=state, request=request, response=response, error=error
        )

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        # The inner handler sleeps out Retry-After here; the wrapper must not skip that.
        await self._inner.prepare_for_next_attempt_async(
            state=state, request=request, response=response, error=error
        )


def retry_handlers() -> list[AsyncRetryHandler]:
    """Slack's own retry handlers: Retry-After on 429 for every call (but the senders', see
    `callers_pace`); 5xx and dropped connections only for calls that are safe to repeat (see
    the module doc)."""
    return [
        _UnlessCallerPaces(AsyncRateLimitErrorRetryHandler(max_retry_count=5)),
        _IdempotentOnly(AsyncServerErrorRetryHandler(max_retry_count=2)),
        _IdempotentOnly(AsyncConnectionErrorRetryHandler(max_retry_count=2)),
    ]


def build_web_client(
    token: str | None, base_url: str, metrics: Metrics | None
) -> InstrumentedWebClient:
    client = InstrumentedWebClient(
        token=token, base_url=base_url, timeout=15, retry_handlers=retry_handlers()
    )
    client.metrics = metrics
    return client


class _ClientCache(LRUCache[str, InstrumentedWebClient]):
    """Clients by token, least recently used evicted first; evicted ones are closed later."""

    def __init__(self, maxsize: int, close_after: float) -> None:
        super().__init__(maxsize)
        self._close_after = close_after
        self.closing: set[asyncio.Task[None]] = set()

    def popitem(self) -> tuple[str, InstrumentedWebClient]:
        token, client = super().popitem()
        self._close_soon(client)
        return token, client

    def discard(self, token: str) -> None:
        """Drops a token's client (its team uninstalled the app); closed later, as if evicted."""
        client = self.pop(token, None)
        if client is not None:
            self._close_soon(client)

    def _close_soon(self, client: InstrumentedWebClient) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._close_later(client))
        except RuntimeError:  # no loop: the client never made a session (they are per loop)
            return
        self.closing.add(task)
        task.add_done_callback(self.closing.discard)

    async def _close_later(self, client: InstrumentedWebClient) -> None:
        try:
            await asyncio.sleep(self._close_after)
        finally:  # at shutdown too, when the wait is cancelled
            await client.aclose()


class SlackClients:
    """Finds the client for a Slack team: the single bot token, or the team's OAuth installation."""

    def __init__(
        self,
        *,
        base_url: str,
        metrics: Metrics | None,
        bot_token: str | None,
        installation_store: EncryptedInstallationStore | None = None,
        enterprise_of: EnterpriseOf | None = None,
        db: Database | None = None,
        max_cached: int = MAX_CACHED_CLIENTS,
        close_evicted_after: float = CLOSE_EVICTED_AFTER,
    ) -> None:
        self._base_url = base_url
        self._metrics = metrics
        self._installation_store = installation_store
        self._enterprise_of = enterprise_of
        self.rotator: AsyncTokenRotator | None = None
        """Set when the app may have token rotation on (OAuth mode); it calls `self.oauth`."""
        self._rotation = asyncio.Lock()
        self._db = db
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{id(self):x}"
        self.default = build_web_client(bot_token, base_url, metrics)
        self.oauth = build_web_client(None, base_url, metrics)
        """Token-less: oauth.v2.access (installs, rotation) authenticates with the app's secret."""
        self._by_token = _ClientCache(max_cached, close_evicted_after)

    @property
    def installation_store(self) -> EncryptedInstallationStore | None:
        """Where OAuth installations are kept (encrypted); None with a single bot token."""
        return self._installation_store

    async def for_team(self, team_id: str, enterprise_id: str | None = None) -> AsyncWebClient:
        """The client of the team's bot; its Grid org is looked up when not given."""
        store = self._installation_store
        if store is None:
            return self.default
        if enterprise_id is None and self._enterprise_of is not None:
            enterprise_id = await self._enterprise_of(team_id)
        bot = await store.find_bot_for_team(team_id, enterprise_id)
        if bot is None or not bot.bot_token:
            raise LookupError(f"no Slack installation for team {team_id}")
        return self.for_token(await self._fresh_token(store, bot))

    async def _fresh_token(self, store: EncryptedInstallationStore, bot: Bot) -> str:
        """The bot's token, rotated first when it has a refresh token and expires soon."""
        assert bot.bot_token is not None  # checked by the caller
        if self.rotator is None or bot.bot_refresh_token is None or not _expiring(bot):
            return bot.bot_token
        # One rotation at a time, in this process and across replicas: a refresh token is good
        # once. The one that waited re-reads the installation and finds it rotated.
        async with self._rotation, self._rotation_turn(bot):
            installation = await store.async_find_installation(
                enterprise_id=bot.enterprise_id,
                team_id=bot.team_id,
                is_enterprise_install=bot.is_enterprise_install,
            )
            if installation is not None and installation.bot_token is not None:
                refreshed = await self.rotator.perform_token_rotation(
                    installation=installation, minutes_before_expiration=ROTATE_BEFORE_MINUTES
                )
                if refreshed is None:  # rotated meanwhile, by us or by a request
                    return installation.bot_token
                await store.async_save(refreshed)
                log.info("bot token rotated", extra={"team": bot.team_id})
                return refreshed.bot_token or installation.bot_token
            refreshed_bot = await self.rotator.perform_bot_token_rotation(
                bot=bot, minutes_before_expiration=ROTATE_BEFORE_MINUTES
            )
            if refreshed_bot is None or refreshed_bot.bot_token is None:
                return bot.bot_token
            await store.async_save_bot(refreshed_bot)
            return refreshed_bot.bot_token

    @asynccontextmanager
    async def _rotation_turn(self, bot: Bot) -> AsyncIterator[None]:
        """The turn to rotate this bot's token among replicas: a lease in the database (the
        request path and every worker of every replica go through `_fresh_token`)."""
        if self._db is None:  # no database to share (tests of one process)
            yield
            return
        db = self._db
        name = f"token-rotation:{bot.enterprise_id or '-'}:{bot.team_id or '-'}"
        waited_until = time.monotonic() + ROTATION_LEASE + 5
        while True:
            async with db.session() as session:
                taken = await WorkerLeaseRepository(session).take_turn(
                    name, self._owner, datetime.now(UTC), ROTATION_LEASE
                )
            if taken or time.monotonic() > waited_until:
                break
            await asyncio.sleep(ROTATION_POLL)
        try:
            yield
        finally:
            if taken:
                async with db.session() as session:
                    await WorkerLeaseRepository(session).end_turn(name, self._owner, _ALWAYS_DUE)

    def evict(self, token: str) -> None:
        """Forgets the client of a token Slack no longer accepts."""
        if token != self.default.token:
            self._by_token.discard(token)

    async def aclose(self) -> None:
        """Closes the clients' connection pools (at shutdown), evicted ones at once."""
        closing = list(self._by_token.closing)
        for task in closing:
            task.cancel()
        await asyncio.gather(*closing, return_exceptions=True)
        for client in [self.default, self.oauth, *self._by_token.values()]:
            await client.aclose()

    def for_token(self, token: str | None) -> AsyncWebClient:
        """The shared instrumented client for a bot token (Bolt builds a plain one per request)."""
        if token is None or token == self.default.token:
            return self.default
        client = self._by_token.get(token)
        if client is None:
            client = build_web_client(token, self._base_url, self._metrics)
            self._by_token[token] = client
        return client


def _expiring(bot: Bot) -> bool:
    expires_at = bot.bot_token_expires_at
    return expires_at is not None and expires_at <= time.time() + ROTATE_BEFORE_MINUTES * 60
