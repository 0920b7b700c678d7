from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
