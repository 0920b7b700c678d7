"""Samples the bot's `/metrics` while a section's measured phase runs.

What the stand-ins cannot see happens inside the bot: how deep its outbox got and how long its
oldest queued message waited (`skyvia_bot_outbox_depth`, `..._oldest_age_seconds`, read by the
sender every few seconds), and how long each scan round took (`skyvia_bot_worker_tick_seconds`).
The sampler reads them every `every` seconds over HTTP, as Prometheus would, and keeps the peaks.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

DEPTH = "skyvia_bot_outbox_depth"
OLDEST = "skyvia_bot_outbox_oldest_age_seconds"
TICK = "skyvia_bot_worker_tick_seconds"
SCANNER = "alert-scanner"


@dataclass
class Ticks:
    """A worker's rounds as its histogram counts them: how many, seconds in total, per bucket."""

    count: float = 0.0
    total: float = 0.0
    buckets: dict[float, float] = field(default_factory=dict)

    def minus(self, earlier: Ticks) -> Ticks:
        return Ticks(
            self.count - earlier.count,
            self.total - earlier.total,
            {le: n - earlier.buckets.get(le, 0.0) for le, n in self.buckets.items()},
        )

    def mean(self) -> float:
        return self.total / self.count if self.count else math.nan

    def longest_at_most(self) -> float:
        """The smallest bucket bound every round stayed under (a histogram keeps no maximum)."""
        for le in sorted(self.buckets):
            if self.buckets[le] >= self.count:
                return le
        return math.inf


@dataclass
class Reading:
    depth: float = 0.0
    """Messages queued, all priorities together."""
    oldest_age: float = 0.0
    """The oldest queued message's wait in seconds, the largest over priorities."""
    ticks: dict[str, Ticks] = field(default_factory=dict)


def parse(text: str) -> Reading:
    reading = Reading()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == DEPTH:
                reading.depth += sample.value
            elif sample.name == OLDEST:
                reading.oldest_age = max(reading.oldest_age, sample.value)
            elif sample.name.startswith(TICK):
                ticks = reading.ticks.setdefault(sample.labels["worker"], Ticks())
                if sample.name.endswith("_count"):
                    ticks.count = sample.value
                elif sample.name.endswith("_sum"):
                    ticks.total = sample.value
                elif sample.name.endswith("_bucket"):
                    ticks.buckets[float(sample.labels["le"])] = sample.value
    return reading


async def read(urls: Sequence[str], client: httpx.AsyncClient) -> list[Reading]:
    """One reading per bot process (replicas each have their own `/metrics`)."""
    texts = [(await client.get(f"{url}/metrics", timeout=5)).text for url in urls]
    return [parse(text) for text in texts]


@dataclass
class Sampled:
    """The peaks seen, and each worker's rounds since sampling began (summed over processes)."""

    peak_depth: float = 0.0
    peak_oldest_age: float = 0.0
    samples: int = 0
    first: list[Reading] = field(default_factory=list)
    last: list[Reading] = field(default_factory=list)

    def rounds(self, worker: str = SCANNER) -> Ticks:
        total = Ticks()
        for before, after in zip(self.first, self.last, strict=True):
            diff = after.ticks.get(worker, Ticks()).minus(before.ticks.get(worker, Ticks()))
            total.count += diff.count
            total.total += diff.total
            for le, n in diff.buckets.items():
                total.buckets[le] = total.buckets.get(le, 0.0) + n
        return total


@contextlib.asynccontextmanager
async def sampling(urls: Sequence[str], every: float = 0.5) -> AsyncIterator[Sampled]:
    """Reads `/metrics` of each process now, every `every` seconds, and once more at the end."""
    sampled = Sampled()
    async with httpx.AsyncClient() as client:
        sampled.first = sampled.last = await read(urls, client)

        def take(readings: list[Reading]) -> None:
            sampled.last = readings
            sampled.samples += 1
            # Each replica reads the depth of the one shared outbox: the largest, not the sum.
            sampled.peak_depth = max(sampled.peak_depth, *(r.depth for r in readings))
            sampled.peak_oldest_age = max(
                sampled.peak_oldest_age, *(r.oldest_age for r in readings)
            )

        async def loop() -> None:
            while True:
                await asyncio.sleep(every)
                with contextlib.suppress(httpx.HTTPError):
                    take(await read(urls, client))

        task = asyncio.create_task(loop())
        try:
            yield sampled
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(httpx.HTTPError):
                take(await read(urls, client))
