"""Moved to `bot.devtools.slack_requests` (the console uses it too); kept so imports still work."""

from bot.devtools.slack_requests import *  # noqa: F403
from bot.devtools.slack_requests import __all__ as __all__
