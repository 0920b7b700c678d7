"""Slack's rate limits, kept proactively: token buckets per (team, method) and per channel.

Slack limits each app per workspace and per method
(docs/reference/guarantees.md#delivery-at-slacks-pace): `chat.postMessage` about one a second per
channel with short bursts, plus a workspace-wide limit; `chat.update` Tier 3 (about 50
a minute per workspace); reads of history far lower. Learning those limits from 429s costs a
refused call each time and, with many senders, most calls; so the senders ask a bucket first and
only send what it allows (`Pace.take`). A 429 that still comes holds its whole bucket until its
`Retry-After` (`Pace.hold`): no sender of this process sends on it before then, and the per-team
sending lease (`bot.slack.delivery.senders`) makes this process the only one sending for that team.

A team's limit can be lower than its configured figure (Slack publishes none for the
workspace-wide limit of `chat.postMessage`, and a plan or another app's load may lower any), so a
429 on a team's bucket also slows that bucket down: half its rate and a burst of one call, which
come back while no 429 does (the rate doubles each `RECOVERY_S` seconds, the burst grows by one
call a second). A new bucket starts with a burst of at most `START_BURST` that doubles each
second up to its figure, so a figure set too high meets Slack's real burst a few calls at a
time, not all at once; after a 429 the burst only grows slowly (doubling back there let a team
whose real burst is 4 meet more 429s than the first burst's). Without the slowing down, every sender
round after the first 429 would meet another: a burst refused, held, refilled at the same
too-high rate, and refused again.

The figures are configurable (`SKYVIA_BOT_SLACK_PACE`, `PaceConfig.parse`): a workspace on a
plan with other limits, or a test stand-in, sets its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.pace_config import CHANNEL, POST, UPDATE, PaceConfig, Rate

__all__ = ["CHANNEL", "POST", "UPDATE", "Bucket", "Pace", "PaceConfig", "Rate"]


RECOVERY_S = 10.0
"""After a 429 slowed a bucket down, its rate doubles each this many seconds without another.
Halving on a 429 and doubling this fast keeps a team whose real limit is below its figure
between half and all of that limit, at about one 429 (and the hold it brings) per cycle: at a
minute a cycle, the team spent most of a wave well under its limit (benchmarks, alerts section
with Slack's tiers: ~30 a second sent of 60 allowed)."""
SLOWEST = 1 / 64
"""A bucket never slows below this share of its configured rate (six 429s in a row)."""
START_BURST = 50.0
"""A bucket's first burst, whatever its figure says (the default workspace burst of
`chat.postMessage`): the burst then doubles each second without a 429 up to the figure. A
team told it takes 1,000 posts at once, sending them before any answer came back, had 900 of
them answered 429 when its real burst was 100 (benchmarks, alerts section with Slack's tiers)."""


class Bucket:
    """A token bucket; `held_until` keeps it empty after a 429 until `Retry-After` is over.

    `scale` (1 = the configured rate) and `burst` are what a 429 lowered (`slow_down`) and
    time restores (`refill`): the burst doubles each second up to `ceiling` (the figure at
    first: slow start; nothing after a 429), then grows by one call a second."""

    __slots__ = ("burst", "ceiling", "held_until", "rate", "scale", "stamp", "tokens")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.burst = min(rate.burst, START_BURST)
        self.ceiling = rate.burst
        self.tokens = self.burst
        self.stamp = now
        self.held_until = 0.0
        self.scale = 1.0

    @property
    def per_second(self) -> float:
        return self.rate.per_second * self.scale

    def refill(self, now: float) -> None:
        if now > self.stamp:
            elapsed = now - self.stamp
            if self.burst < self.ceiling:
                self.burst = min(self.ceiling, self.burst * 2**elapsed)
            elif self.burst < self.rate.burst:
                self.burst = min(self.rate.burst, self.burst + elapsed)
            self.tokens = min(self.burst, self.tokens + elapsed * self.per_second)
            if self.scale < 1:
                self.scale = min(1.0, self.scale * 2 ** (elapsed / RECOVERY_S))
            self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until a call may go (0 when one may go now)."""
        if now < self.held_until:
            return self.held_until - now
        self.refill(now)
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.per_second

    def hold(self, until: float) -> None:
        """Empty until `until`, then a single call (a hold never shortens an earlier one)."""
        self.held_until = max(self.held_until, until)
        self.tokens = min(self.tokens, 1.0)
        self.stamp = max(self.stamp, self.held_until)

    def slow_down(self, now: float) -> None:
        """A 429 said this bucket's real limit is lower: half the rate, a burst of one.

        Once per hold: the other calls in flight when the first 429 came are answered 429
        too, and they say nothing new."""
        if now < self.held_until:
            return
        self.refill(now)
        self.scale = max(SLOWEST, self.scale / 2)
        self.ceiling = 1.0  # no doubling back: the burst grows a call a second from one
        self.burst = 1.0
        self.tokens = min(self.tokens, 1.0)


class Pace:
    """The buckets of one process, made on first use; see the module docstring."""

    def __init__(
        self, config: PaceConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or PaceConfig()
        self._clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def _bucket(self, key: tuple[str, str], scope: str, now: float) -> Bucket | None:
        """The bucket of `key` (made on first use), or None when `scope` is not paced."""
        bucket = self._buckets.get(key)
        if bucket is None:
            rate = self.config.rates.get(scope)
            if rate is None:
                return None
            bucket = self._buckets[key] = Bucket(rate, now)
        return bucket

    def _team_and_channel(
        self, team_id: str, method: str, channel_id: str | None
    ) -> tuple[Bucket | None, Bucket | None]:
        """The team's bucket of `method`, and a post's channel bucket (None when unpaced)."""
        now = self._clock()
        team = self._bucket((team_id, method), method, now)
        channel = None
        if method == POST and channel_id is not None:
            channel = self._bucket((team_id, f"#{channel_id}"), CHANNEL, now)
        return team, channel

    def _scopes(self, team_id: str, method: str, channel_id: str | None) -> list[Bucket]:
        return [b for b in self._team_and_channel(team_id, method, channel_id) if b is not None]

    def wait(self, team_id: str, method: str, channel_id: str | None = None) -> float:
        """Seconds until a `method` call for this team (and channel) may go."""
        now = self._clock()
        return max((b.wait(now) for b in self._scopes(team_id, method, channel_id)), default=0.0)

    def take(self, team_id: str, method: str, channel_id: str | None = None) -> bool:
        """Spends one call of each bucket involved if all have one now; False (nothing spent)
        when one of them is empty or held."""
        buckets = self._scopes(team_id, method, channel_id)
        now = self._clock()
        if any(b.wait(now) > 0 for b in buckets):
            return False
        for bucket in buckets:
            bucket.tokens -= 1
        return True

    def hold(self, team_id: str, method: str, channel_id: str | None, retry_after: float) -> None:
        """Slack answered 429: every bucket the call was in is held until `retry_after` seconds
        from now, for every sender of this process, and then starts again with a single call;
        the team's bucket also slows down (see the module docstring).

        A 429 does not say which limit it met. A post's channel bucket is kept at Slack's
        per-channel pace, so a post's 429 is most likely the workspace-wide limit, which no
        bucket of the channel would stop: it holds and slows the team's bucket as well.
        """
        now = self._clock()
        until = now + max(0.0, retry_after)
        team, channel = self._team_and_channel(team_id, method, channel_id)
        if team is not None:
            team.slow_down(now)
        for bucket in (team, channel):
            if bucket is not None:
                bucket.hold(until)

    def forget_idle(self, keep: int = 50_000) -> None:
        """Drops full, unheld buckets once there are more than `keep` (bounded memory)."""
        if len(self._buckets) <= keep:
            return
        now = self._clock()
        for key, bucket in list(self._buckets.items()):
            bucket.refill(now)
            if bucket.tokens >= bucket.rate.burst and bucket.held_until <= now:
                del self._buckets[key]
