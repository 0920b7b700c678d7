"""The help listing, built from `usage.USAGE` so the help and the errors never disagree."""

from __future__ import annotations

from bot.slack.grammar.usage import USAGE
from bot.slack.messages.common import Message, context, section
from bot.slack.messages.mrkdwn import escape_mrkdwn


def help_message() -> Message:
    lines = "\n".join(f"• {escape_mrkdwn(line)}" for line in USAGE.values())
    return Message(
        text="Skyvia Backup Bot: run and watch Skyvia backups from this channel. "
        "Type /skyvia help for the commands.",
        blocks=[
            section("*Skyvia Backup Bot* runs and watches Skyvia backups from this channel."),
            section(lines),
            context(
                "Ids may be written `456` or `#456`. Only you can see this message.",
            ),
        ],
    )
