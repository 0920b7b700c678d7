"""Slack's rate limits, kept proactively: token buckets per (team, method) and per channel.

Slack limits each app per workspace and per method
(docs/reference/guarantees.md#delivery-at-slacks-pace): `chat.postMessage` about one a second per
channel with short bursts, plus a workspace-wide limit; `chat.update` Tier 3 (about 50
a minute per workspace); reads of history far lower. Learning those limits from 429s costs a
refused call each time and, with many senders, most calls; so the senders ask a bucket first and
only send what it allows (`Pace.take`). A 429 that still comes holds its whole bucket until its
`Retry-After` (`Pace.hold`): no sender of this process sends on it before then, and the per-team
sending lease (`bot.slack.delivery.senders`) makes this process the only one sending for that team.

The figures are configurable (`SKYVIA_BOT_SLACK_PACE`, `PaceConfig.parse`): a workspace on a
plan with other limits, or a test stand-in, sets its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.pace_config import CHANNEL, POST, UPDATE, PaceConfig, Rate

__all__ = ["CHANNEL", "POST", "UPDATE", "Bucket", "Pace", "PaceConfig", "Rate"]


class Bucket:
    """A token bucket; `held_until` keeps it empty after a 429 until `Retry-After` is over."""

    __slots__ = ("held_until", "rate", "stamp", "tokens")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.tokens = rate.burst
        self.stamp = now
        self.held_until = 0.0

    def refill(self, now: float) -> None:
        if now > self.stamp:
            gained = (now - self.stamp) * self.rate.per_second
            self.tokens = min(self.rate.burst, self.tokens + gained)
            self.stamp = now

    def wait(self, now: float) -> float:
        """Seconds until a call may go (0 when one may go now)."""
        if now < self.held_until:
            return self.held_until - now
        self.refill(now)
        if self.tokens >= 1:
            return 0.0
        return (1 - self.tokens) / self.rate.per_second


class Pace:
    """The buckets of one process, made on first use; see the module docstring."""

    def __init__(
        self, config: PaceConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or PaceConfig()
        self._clock = clock
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def _scopes(self, team_id: str, method: str, channel_id: str | None) -> list[Bucket]:
        now = self._clock()
        scopes: list[Bucket] = []
        wanted: list[tuple[tuple[str, str], str]] = [((team_id, method), method)]
        if method == POST and channel_id is not None:
            wanted.append(((team_id, f"#{channel_id}"), CHANNEL))
        for key, scope in wanted:
            rate = self.config.rates.get(scope)
            if rate is None:
                continue
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = Bucket(rate, now)
            scopes.append(bucket)
        return scopes

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
        """Slack answered 429: the bucket it came from is held until `retry_after` seconds from
        now, for every sender of this process, and then starts again with a single call.

        A post's 429 holds its channel's bucket (the limit a post meets first); any other
        method's holds the team's bucket of that method.
        """
        now = self._clock()
        until = now + max(0.0, retry_after)
        buckets = self._scopes(team_id, method, channel_id)
        for bucket in buckets[1:] if len(buckets) > 1 else buckets:
            bucket.held_until = max(bucket.held_until, until)
            bucket.tokens = min(bucket.tokens, 1.0)
            bucket.stamp = max(bucket.stamp, bucket.held_until)

    def forget_idle(self, keep: int = 50_000) -> None:
        """Drops full, unheld buckets once there are more than `keep` (bounded memory)."""
        if len(self._buckets) <= keep:
            return
        now = self._clock()
        for key, bucket in list(self._buckets.items()):
            bucket.refill(now)
            if bucket.tokens >= bucket.rate.burst and bucket.held_until <= now:
                del self._buckets[key]
