"""Pacing floors: the least time Slack's pace, as the bot keeps it, allows for a wave of messages.

The bot paces itself (`bot.pace_config`, `SKYVIA_BOT_SLACK_PACE`): by default one post a second
per channel with a burst of 1, within a team-wide `chat.postMessage` bucket, and `chat.update`
at 50 a minute per team with a burst of 5. A token bucket of rate r and burst b lets n calls
through in (n - b) / r seconds at best (the first b at once), so that is the floor a wave is
measured against; the figures come from the same `PaceConfig` the bot reads, so a change of the
bot's default pace moves the floors with it.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.pace_config import CHANNEL, POST, UPDATE, PaceConfig, Rate

ONE_WIDE_WORKSPACE = "chat.postMessage=60000/60+1000"
"""The floors count one post a second per channel (docs/reference/guarantees.md#speed-and-scale),
and these benchmarks put all their channels (up to 1,000) in one Slack workspace: they lift that
workspace's limit for `chat.postMessage` out of the way (`SKYVIA_BOT_SLACK_PACE`), as a workspace
that knows its own limit would. With the bot's default (3,000 a minute, `bot.pace_config`) a
wave of 25,000 alerts in one workspace would measure the pace, not the bot."""


def _bucket_floor(rate: Rate | None, calls: int) -> float:
    if rate is None or calls <= 0:
        return 0.0
    return max(0.0, calls - rate.burst) / rate.per_second


def post_floor(per_channel: Iterable[int], per_team: Iterable[int], pace: str = "") -> float:
    """Seconds the posts of a wave take at least: the busiest channel's bucket, or the busiest
    team's `chat.postMessage` bucket, whichever is slower."""
    rates = PaceConfig.parse(pace).rates
    return max(
        max((_bucket_floor(rates.get(CHANNEL), n) for n in per_channel), default=0.0),
        max((_bucket_floor(rates.get(POST), n) for n in per_team), default=0.0),
    )


def update_floor(per_team: Iterable[int], pace: str = "") -> float:
    """Seconds the edits of a wave take at least: the busiest team's `chat.update` bucket."""
    rate = PaceConfig.parse(pace).rates.get(UPDATE)
    return max((_bucket_floor(rate, n) for n in per_team), default=0.0)


def channel_rate(pace: str = "") -> Rate | None:
    """The per-channel post rate the bot keeps (None: unpaced)."""
    return PaceConfig.parse(pace).rates.get(CHANNEL)
