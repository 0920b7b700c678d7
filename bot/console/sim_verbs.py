"""The console's `sim` verbs: make the simulator fail, succeed or go stale, to watch the bot.

`sim digest` brings the channel's daily digest now, as if its time of day had come, so a
newcomer sees one without waiting for 09:00 (and README's transcript can show it). It only
moves the digest's timer to now; the timer worker posts it as it would at 09:00, once per local
day (`bot.services.digests`), so the verb says when none will come.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.services.digests import DIGEST_SUBJECT, DigestSetting, digest_day
from bot.services.models import ChannelBinding
from bot.simulator.records import SimBackup
from bot.simulator.state import SimulatorState
from storage.db import Database
from storage.models import TimerKind
from storage.repositories import TimerRepository

INDENT = "  "
SIM_USAGE = (
    "Usage: sim fail <backupId> [times] · sim run <backupId> · sim recover <backupId> · "
    "sim stale <backupId> · sim digest"
)
SIM_VERBS = ("fail", "run", "recover", "stale")
STALE_AGE = timedelta(days=2)


def aged_backup(state: SimulatorState, words: list[str]) -> SimBackup | None:
    """The backup a well-formed `sim stale <backupId>` ages, whose runs the bot must re-read."""
    if len(words) != 2 or words[0] != "stale" or not words[1].lstrip("#").isdigit():
        return None
    return state.backups.get(int(words[1].lstrip("#")))


def quiet_reason(binding: ChannelBinding | None, backup: SimBackup) -> str | None:
    """Why a failure of `backup` would not be announced in the console's channel, in the words
    of the command that changes it; None when its alert comes."""
    if binding is None:
        return f"this channel is not connected, so no alert comes (`connect {backup.workspace_id}`)"
    if binding.workspace_id != backup.workspace_id:
        return (
            f"this channel is connected to workspace {binding.workspace_id}, not to the backup's "
            f"({backup.workspace_id}), so no alert comes here"
        )
    if binding.paused:
        return "this channel's alerts are paused (see `status`), so no alert comes"
    if not binding.alerts_enabled:
        return "alerts are off here, so no alert comes (`alerts on`)"
    if backup.id in binding.muted_backup_ids:
        return f"backup {backup.id} is muted here, so no alert comes (`alerts unmute {backup.id}`)"
    return None


def simulator_command(
    state: SimulatorState, words: list[str], binding: ChannelBinding | None = None
) -> list[str]:
    """Acts on the simulator; returns the lines to show. `binding` is the console channel's,
    so `sim run` says whether the failure's alert will really come there."""
    out: list[str] = []
    times = words[2] if len(words) == 3 and words[0] == "fail" else "1"
    if (
        len(words) not in (2, 3)
        or words[0] not in SIM_VERBS
        or (len(words) == 3 and words[0] != "fail")
        or not words[1].lstrip("#").isdigit()
        or not times.isdigit()
        or not 1 <= int(times) <= 100
    ):
        out.append(SIM_USAGE)
        return out
    backup_id = int(words[1].lstrip("#"))
    if backup_id not in state.backups:
        out.append(f"The simulator has no backup {backup_id}.")
        return out
    verb = words[0]
    if verb == "fail":
        state.fail_next(backup_id, count=int(times))
        which = "the next snapshot" if times == "1" else f"the next {times} snapshots"
        out.append(f"{INDENT}(simulator: {which} of backup {backup_id} will fail)")
    elif verb == "run":
        failing = bool(state.backups[backup_id].fail_next)
        quiet = quiet_reason(binding, state.backups[backup_id])
        run = state.run_scheduled_now(backup_id)
        outcome = "it will succeed"
        if failing:
            outcome = (
                f"it will fail; {quiet}" if quiet else "it will fail, and the alert comes here"
            )
        out.append(
            f"{INDENT}(simulator: backup {backup_id} started scheduled snapshot {run.id}; "
            f"{outcome})"
        )
    elif verb == "recover":
        run = state.recover(backup_id)
        out.append(
            f"{INDENT}(simulator: backup {backup_id} started scheduled snapshot {run.id}; "
            "it will succeed, and an open failure episode is closed in its thread)"
        )
    else:
        # On the console's one clock the API's dates are real ones: two days real is that × speed.
        speed = state.clock.speed if state.real_time_dates else 1.0
        state.age_runs(backup_id, STALE_AGE * speed)
        out.append(
            f"{INDENT}(simulator: the last good snapshot of backup {backup_id} is now two days "
            "older; on `auto` the bot notices within an hour, or at once after "
            f"`alerts stale {backup_id} 1h`)"
        )
    return out


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
