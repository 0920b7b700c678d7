"""Slack's Web API rate-limit tiers as token buckets, for the Slack stand-in (`slack_standin`).

Slack limits calls per app, per workspace (the token's team) and per method, and
`chat.postMessage` also per channel (https://docs.slack.dev/apis/web-api/rate-limits). A call
past a limit is answered `429` with `Retry-After` and does nothing. A stand-in without those
limits lets a bot pass that, in a real workspace, would spend most of its calls on 429s; with
them on, a test or benchmark sees the bot's pace as Slack would.

Each limit is a token bucket: it holds up to `burst` calls and refills at `per_minute / 60` a
second; a call takes one token from every bucket it falls in (all or none), else it is refused
with `Retry-After` = the seconds until each of them holds a token again (rounded up, at least 1).

Slack publishes tiers, not bucket sizes: the bursts below are this stand-in's reading of
"a small amount of burst" (Tier 1) up to "generous burst behavior" (Tier 4). Slack publishes no
figure for `chat.postMessage`'s workspace-wide limit; `POST_PER_WORKSPACE` is an assumption,
set above the benchmarks' 50 channels per workspace at 1 a second so that the per-channel pace
stays what they are measured against. Override any of them with `SlackTiers.with_limits`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

__all__ = [
    "OUTSIDE_MARKETPLACE_HISTORY",
    "OUTSIDE_MARKETPLACE_PAGE",
    "POST_PER_CHANNEL",
    "POST_PER_WORKSPACE",
    "TIER_1",
    "TIER_2",
    "TIER_3",
    "TIER_4",
    "TIER_NAMES",
    "Limit",
    "RateLimited",
    "SlackTiers",
    "TierLimiter",
]

POST_MESSAGE = "chat.postMessage"
HISTORY_METHODS = ("conversations.history", "conversations.replies")
TIER_NAMES = ("off", "documented", "outside-marketplace")
"""What `SlackTiers.named` takes: a command line's or an environment variable's choices."""


@dataclass(frozen=True)
class Limit:
    """A token bucket's shape: `per_minute` calls a minute on average, `burst` at once."""

    per_minute: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError(f"a limit needs per_minute > 0 and burst >= 1, got {self}")


TIER_1 = Limit(per_minute=1, burst=2)
TIER_2 = Limit(per_minute=20, burst=5)
TIER_3 = Limit(per_minute=50, burst=10)
TIER_4 = Limit(per_minute=100, burst=20)
POST_PER_CHANNEL = Limit(per_minute=60, burst=3)
"""`chat.postMessage`: "1 per second" per channel, "short bursts >1 allowed"."""
POST_PER_WORKSPACE = Limit(per_minute=3_600, burst=100)
"""`chat.postMessage` across a workspace: an assumption (Slack gives no figure), see above."""
OUTSIDE_MARKETPLACE_HISTORY = Limit(per_minute=1, burst=1)
"""`conversations.history`/`.replies` for apps distributed outside the Slack Marketplace."""
OUTSIDE_MARKETPLACE_PAGE = 15
"""... which also return at most this many messages a page."""

DOCUMENTED: Mapping[str, Limit] = {
    POST_MESSAGE: POST_PER_WORKSPACE,
    "chat.update": TIER_3,
    "chat.postEphemeral": TIER_4,
    "views.open": TIER_4,
    "views.publish": TIER_4,
    "views.update": TIER_4,
    "users.info": TIER_4,
    "usergroups.users.list": TIER_2,
    "conversations.info": TIER_3,
    "conversations.members": TIER_4,
    "conversations.join": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "apps.connections.open": TIER_1,
}
"""Each method's tier as Slack's method reference gives it (`auth.test`, `chat.getPermalink`:
"special", generous, not limited here)."""


@dataclass(frozen=True)
class SlackTiers:
    """Which calls the stand-in limits. `SlackTiers()` limits nothing; `documented()` is Slack."""

    methods: Mapping[str, Limit] = field(default_factory=dict)
    """Per (workspace, method). A method not named here is not limited."""
    post_per_channel: Limit | None = None
    """`chat.postMessage` per (workspace, channel), besides its entry in `methods`."""
    history_page_limit: int | None = None
    """`conversations.history`/`.replies` return at most this many messages a page."""

    @classmethod
    def documented(cls, *, outside_marketplace: bool = False) -> SlackTiers:
        """Slack's published tiers. `outside_marketplace`: an app not approved for the Slack
        Marketplace reads history once a minute, 15 messages a page (since 2025)."""
        tiers = cls(methods=dict(DOCUMENTED), post_per_channel=POST_PER_CHANNEL)
        if outside_marketplace:
            tiers = tiers.with_history_limit(OUTSIDE_MARKETPLACE_HISTORY, OUTSIDE_MARKETPLACE_PAGE)
        return tiers

    @classmethod
    def named(cls, name: str) -> SlackTiers | None:
        """For command lines and environment variables (`TIER_NAMES`): `off` (None),
        `documented`, or `outside-marketplace`."""
        if name not in TIER_NAMES:
            raise ValueError(f"Slack tiers are one of {', '.join(TIER_NAMES)}, not {name!r}")
        if name == "off":
            return None
        return cls.documented(outside_marketplace=name == "outside-marketplace")

    def with_limits(self, limits: Mapping[str, Limit]) -> SlackTiers:
        """These tiers with some methods' limits replaced or added."""
        return replace(self, methods={**self.methods, **limits})

    def with_history_limit(self, limit: Limit, page: int | None) -> SlackTiers:
        return replace(
            self.with_limits(dict.fromkeys(HISTORY_METHODS, limit)), history_page_limit=page
        )


@dataclass
class _Bucket:
    limit: Limit
    tokens: float
    updated: float

    def wait(self, now: float) -> float:
        """Refills to `now`; the seconds until one token is there (0 when one is)."""
        rate = self.limit.per_minute / 60
        self.tokens = min(float(self.limit.burst), self.tokens + (now - self.updated) * rate)
        self.updated = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / rate


@dataclass(frozen=True)
class RateLimited:
    """A refused call: wait `retry_after` seconds; `bucket` names the limit it met."""

    retry_after: int
    bucket: str


class TierLimiter:
    """The buckets of one stand-in, keyed by workspace (and channel), filled on first use."""

    def __init__(self, tiers: SlackTiers, clock: Callable[[], float]) -> None:
        self.tiers = tiers
        self._clock = clock
        self._buckets: dict[tuple[str, ...], _Bucket] = {}

    def admit(self, team_id: str, method: str, channel: str | None) -> RateLimited | None:
        """Takes a token from each bucket the call falls in, or none and says how long to wait."""
        wanted: list[tuple[tuple[str, ...], Limit]] = []
        limit = self.tiers.methods.get(method)
        if limit is not None:
            wanted.append(((team_id, method), limit))
        per_channel = self.tiers.post_per_channel
        if method == POST_MESSAGE and per_channel is not None and channel:
            wanted.append(((team_id, method, channel), per_channel))
        if not wanted:
            return None
        now = self._clock()
        buckets = [(key, self._bucket(key, limit, now)) for key, limit in wanted]
        waits = [(bucket.wait(now), key) for key, bucket in buckets]
        longest, key = max(waits)
        if longest > 0:
            # A hair over a whole second is float noise, not a reason to say "wait 2 s".
            return RateLimited(max(1, math.ceil(longest - 1e-9)), " ".join(key))
        for _, bucket in buckets:
            bucket.tokens -= 1
        return None

    def page_limit(self, method: str) -> int | None:
        return self.tiers.history_page_limit if method in HISTORY_METHODS else None

    def _bucket(self, key: tuple[str, ...], limit: Limit, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(limit, float(limit.burst), now)
        return bucket
