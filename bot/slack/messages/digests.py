"""`digest daily HH:MM|off`: what the channel is told when its daily digest is set or stopped,
and what `digest` alone answers. The digest itself is drawn in `bot.slack.messages.health`,
beside the `health` lines it repeats."""

from __future__ import annotations

from bot.services.digests import DigestSetting
from bot.slack.messages.common import Message, context, fallback, section
from bot.slack.messages.mrkdwn import slack_date, user_mention


def _one(line: str, note: str = "") -> Message:
    return Message(text=fallback(line), blocks=[section(line), *([context(note)] if note else [])])


def digest_set_message(user_id: str, setting: DigestSetting) -> Message:
    """Told to the channel: who set the digest, at what local time, and when the first comes."""
    return _one(
        f":clipboard: {user_mention(user_id)} set a daily health digest for this channel at "
        f"{setting.words}; the next one is {slack_date(setting.next_at)}.",
        "`/skyvia digest off` stops it",
    )


def digest_off_message(user_id: str, dropped: DigestSetting) -> Message:
    return _one(
        f":clipboard: {user_mention(user_id)} stopped the daily health digest of this channel "
        f"(it came at {dropped.words})."
    )


def digest_unchanged_message(setting: DigestSetting) -> Message:
    """To the person only: setting what is set already changes nothing and tells no one."""
    return _one(
        f"The daily digest of this channel is already at {setting.words}; the next one is "
        f"{slack_date(setting.next_at)}."
    )


def digest_shown_message(setting: DigestSetting | None) -> Message:
    """`digest` alone, to the person: what is set here, and how to change it."""
    if setting is None:
        return _one(
            "This channel has no daily digest.",
            "`/skyvia digest daily 09:00` posts one every day at 09:00 in your time zone",
        )
    return _one(
        f":clipboard: This channel gets a daily health digest at {setting.words}, set by "
        f"{user_mention(setting.set_by)}; the next one is {slack_date(setting.next_at)}.",
        "`/skyvia digest off` stops it",
    )


def with_digest(message: Message, setting: DigestSetting | None) -> Message:
    """`status` with a line saying when the channel's digest comes, when it has one."""
    if setting is None:
        return message
    line = f":clipboard: Daily digest at {setting.words}, next {slack_date(setting.next_at)}"
    return Message(text=message.text, blocks=[*message.blocks, context(line)])


def no_digest_message() -> Message:
    """`digest off` where there is none: to the person only, nothing posted."""
    return _one("This channel has no daily digest, so there is nothing to stop.")
