"""Which workers a process runs; the watcher and the alert scanner register here."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.container import Container
    from bot.workers import PeriodicWorker


def workers_for(container: Container) -> list[PeriodicWorker]:
    return []
