"""`skyvia-bot console`: the real bot in a terminal, against the simulator and a Slack stand-in.

Like Hubot's shell adapter or Errbot's text mode: the same handlers, storage and workers as in
production, reached over HTTP with signed Slack requests, with messages shown as readable text.
"""

from bot.console.main import run_console

__all__ = ["run_console"]
