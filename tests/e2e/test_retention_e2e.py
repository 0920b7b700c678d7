"""The running bot prunes: its worker group runs retention, which deletes rows past their age
(default settings) and leaves the rest."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import utcnow
from bot.devtools.waiting import wait_until
from storage.db import Database
from tests.e2e.bot_fixtures import StartBot
from tests.storage import retention_rows as rows

DAY = timedelta(days=1)


async def test_the_bot_prunes_old_rows_with_its_default_settings(
    start_bot: StartBot, database_url: str
) -> None:
    db = Database.connect(database_url)
    try:
        now = utcnow()
        for name, age in (("old", 1), ("fresh", 0)):
            await rows.click(db, name, now - 2 * DAY * age - timedelta(hours=1))
            await rows.audit(db, name, now - 100 * DAY * age - DAY)
            finished = now - 40 * DAY * age - DAY
            await rows.watch(db, f"C-{name}", 1, finished - DAY, finished)
            await rows.delivery(db, f"C-{name}", 2, rows.ALERT, now - 20 * DAY * age - DAY)

        await start_bot()

        async def pruned() -> bool:
            return (await rows.click_keys(db), await rows.audit_targets(db)) == (
                {"fresh"},
                {"fresh"},
            ) and (await rows.watch_channels(db), await rows.delivery_keys(db)) == (
                {"C-fresh"},
                {("C-fresh", 2, rows.ALERT)},
            )

        await wait_until(pruned, timeout=20, what="retention to prune the old rows")
    finally:
        await db.dispose()
