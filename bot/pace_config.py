"""Slack's documented rate limits as figures, and `SKYVIA_BOT_SLACK_PACE` that overrides them.

Plain data and parsing, read by `bot.config` (to refuse a malformed setting at start-up) and by
`bot.slack.delivery.pacing` (which keeps the pace).
"""

from __future__ import annotations

from dataclasses import dataclass, field

POST = "chat.postMessage"
UPDATE = "chat.update"
CHANNEL = "channel"
"""The per-channel scope of `chat.postMessage` in a pace specification."""


@dataclass(frozen=True)
class Rate:
    """`count` calls per `per` seconds, with bursts of up to `burst` calls."""

    count: float
    per: float
    burst: float

    @property
    def per_second(self) -> float:
        return self.count / self.per

    @classmethod
    def parse(cls, text: str) -> Rate:
        """`N/S` (N calls per S seconds) with an optional `+B` burst, e.g. `50/60+5`."""
        body, _, burst = text.partition("+")
        count, _, per = body.partition("/")
        rate = cls(float(count), float(per or 1), float(burst) if burst else 1.0)
        if rate.count <= 0 or rate.per <= 0 or rate.burst < 1:
            raise ValueError(f"{text!r}: want N/S[+B] with N, S > 0 and B >= 1")
        return rate


def _documented() -> dict[str, Rate]:
    """Slack's published limits; bursts are small on purpose.

    Slack documents a workspace-wide limit for `chat.postMessage` but publishes no figure for
    it. The default, 3,000 a minute with bursts of 50, stays under the 3,600 a minute our Slack
    stand-in assumes (`bot.devtools.slack_tiers`) and lets 50 channels of one workspace post at
    their full pace; a workspace whose limit is lower is learned from its first 429s (see
    `bot.slack.delivery.pacing`), and one that is known sets its own (`chat.postMessage=N/S`).
    """
    return {
        CHANNEL: Rate(1, 1, 1),
        POST: Rate(3_000, 60, 50),
        UPDATE: Rate(50, 60, 5),
    }


@dataclass(frozen=True)
class PaceConfig:
    """Which rate each scope gets: a method (per team), or `channel` (posts per channel)."""

    rates: dict[str, Rate] = field(default_factory=_documented)

    @classmethod
    def parse(cls, text: str) -> PaceConfig:
        """`scope=N/S[+B],...` over the documented defaults, e.g.
        `channel=1/1+3,chat.postMessage=6000/60,chat.update=50/60`; `off` for no pacing."""
        rates = _documented()
        text = text.strip()
        if text.lower() == "off":
            return cls({})
        for item in filter(None, (part.strip() for part in text.split(","))):
            scope, sep, rate = item.partition("=")
            if not sep or not scope.strip():
                raise ValueError(f"{item!r}: want scope=N/S[+B]")
            rates[scope.strip()] = Rate.parse(rate.strip())
        return cls(rates)
