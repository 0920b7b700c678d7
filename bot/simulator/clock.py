"""A simulated clock that runs `speed` times faster than the wall clock.

Snapshot states are derived from this clock's `now()` and the snapshot's timestamps, so speeding
the clock up (or jumping it forward) moves every snapshot along at once, with no task per
snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(
        self,
        speed: float = 1.0,
        *,
        origin: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_speed(speed)
        self._monotonic = monotonic
        self._origin = origin or datetime.now(UTC)
        self._speed = speed
        self._anchor_real = monotonic()
        self._anchor_sim = 0.0

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def origin(self) -> datetime:
        """The simulated time at which the clock started."""
        return self._origin

    def elapsed(self) -> float:
        """Simulated seconds since `origin`."""
        return self._anchor_sim + (self._monotonic() - self._anchor_real) * self._speed

    def now(self) -> datetime:
        return self._origin + timedelta(seconds=self.elapsed())

    def to_real(self, moment: datetime) -> datetime:
        """The wall-clock time that a simulated `moment` corresponds to at the current speed.

        Something that happened `d` simulated seconds ago happened `d / speed` real seconds ago:
        a front end that shows the simulator next to real-time things (the console) shows
        every time on one clock this way.
        """
        behind = (self.now() - moment).total_seconds() / self._speed
        return datetime.now(UTC) - timedelta(seconds=behind)

    def from_real(self, moment: datetime) -> datetime:
        """The inverse of `to_real`: the simulated time of a wall-clock `moment`."""
        behind = (datetime.now(UTC) - moment).total_seconds() * self._speed
        return self.now() - timedelta(seconds=behind)

    def set_speed(self, speed: float) -> None:
        """Change speed from now on; time already simulated is kept."""
        _check_speed(speed)
        self._anchor_sim = self.elapsed()
        self._anchor_real = self._monotonic()
        self._speed = speed

    def advance(self, seconds: float) -> None:
        """Jump forward by `seconds` of simulated time (never backwards: states only move on)."""
        if seconds < 0:
            raise ValueError("the simulated clock cannot go backwards")
        self._anchor_sim += seconds


def _check_speed(speed: float) -> None:
    if not speed > 0:
        raise ValueError(f"speed must be positive, got {speed}")
