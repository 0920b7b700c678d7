"""The console's `sim digest`: the channel's daily digest comes now, as if its time of day had
come, so a newcomer sees one without waiting for 09:00 (and README's transcript can show it).

It only moves the digest's timer to now; the timer worker posts it as it would at 09:00, once
per local day (`bot.services.digests`), so the verb says when none will come.
"""

from __future__ import annotations

from datetime import datetime

from bot.services.digests import DIGEST_SUBJECT, DigestSetting, digest_day
from storage.db import Database
from storage.models import TimerKind
from storage.repositories import TimerRepository

INDENT = "  "


async def digest_now(db: Database, team_id: str, channel_id: str, now: datetime) -> str:
    """Makes the channel's digest due at `now`; the line that says what will come."""
    async with db.session() as session:
        timer = await TimerRepository(session).get(
            kind=TimerKind.DIGEST, team_id=team_id, channel_id=channel_id, backup_id=DIGEST_SUBJECT
        )
        if timer is None:
            return f"{INDENT}(no daily digest is set here, so none comes: `digest daily 09:00`)"
        setting = DigestSetting.of(timer)
        day, _moment = digest_day(now, setting.at, setting.tz)
        if setting.had(day):
            return (
                f"{INDENT}(this channel had the digest of {day:%a %d %b} already, and it comes "
                "once a day, so none comes now)"
            )
        timer.due_at = now
    return f"{INDENT}(the daily digest of this channel is due now, as at {setting.words})"
