"""Moved to `bot.devtools.slack_standin` (the console uses it too); kept so imports still work."""

from bot.devtools.slack_standin import *  # noqa: F403
from bot.devtools.slack_standin import __all__ as __all__
