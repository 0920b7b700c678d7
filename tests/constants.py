"""Ids the whole suite shares: one team, its people and channels, the simulator's seed.

The Slack stand-in answers as team `TEAM` by default and the simulator seeds workspace
`WORKSPACE` with backups `SEED_BACKUPS` (`BACKUP` is "Nightly CRM"), so tests that name these
ids agree with the doubles without saying so each time.
"""

from __future__ import annotations

TEAM = "T0TEST"
ADMIN = "U0ADMIN"
"""A Slack workspace admin (the e2e stacks register them so)."""
MEMBER = "U0DANA"
"""A regular member: no admin flag, in no operator list."""
CHANNEL = "C0OPS"
OTHER_CHANNEL = "C0OTHER"

WORKSPACE = 123
BACKUP = 456
SEED_BACKUPS = tuple(range(456, 464))
"""The backups of workspace `WORKSPACE` in the simulator's seed."""
