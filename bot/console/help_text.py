"""What the console says about itself: the keys in the banner, the verbs in `help`.

Only the console knows these; the bot's own `/skyvia help` follows them.
"""

from __future__ import annotations

__all__ = ["CONSOLE_HELP", "CONSOLE_VERBS"]

CONSOLE_HELP = """\
Console keys: type a /skyvia command with or without "/skyvia" (e.g. connect 123, backups,
snapshot 456) · N or click N: press button [N] · home: App Home tab ·
sim fail 456 [N]: the next (N) snapshots of 456 fail · sim run 456: a scheduled snapshot starts
now · sim recover 456: a snapshot that succeeds starts now · sim stale 456: its last good snapshot
becomes two days old · sim digest: the channel's daily digest comes now · as @member, as guest,
as @you: try the roles · quit (or Ctrl-D) to leave."""
CONSOLE_VERBS = """\
Console commands (this terminal only; the bot's /skyvia help follows):
  N or click N                 press button [N] of a message on screen
  home                         show the App Home tab
  as @member|guest|you         act as a member, a guest or the admin, to try the roles
  sim fail <backupId> [times]  the simulator fails that backup's next (N) snapshots
  sim run <backupId>           the simulator starts a scheduled snapshot of that backup now
  sim recover <backupId>       the simulator starts a snapshot of that backup that succeeds
  sim stale <backupId>         that backup's last good snapshot becomes two days old
  sim digest                   the channel's daily digest comes now, as at its time of day
  help                         this list, then /skyvia help
  quit, exit or Ctrl-D         leave
Anything else is a /skyvia command, with or without "/skyvia"."""
"""What `help` shows before the bot's own help: the verbs only the console knows."""
