"""Making text safe and readable in Slack mrkdwn: escaping, cutting, times, durations, counts.

Everything from Skyvia or a user passes through `escape_mrkdwn` before it reaches a message, so
a backup named `<!channel>` pings nobody; names also go through `escape_name`, so a backup named
`*Bold*` is not shown bold. Cutting happens *after* escaping (an `&` grows to five characters) and
never inside an entity, so a cut text is still valid and still within limits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.skyvia.models import SnapshotState

ELLIPSIS = "…"
_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_LONGEST_ENTITY = len("&amp;")
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,30}")
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{1,30}")
_GROUP_ID = re.compile(r"S[A-Z0-9]{1,30}")
_ZERO_WIDTH_SPACE = "\u200b"
_FENCE = "```"
CODE_BLOCK_OVERHEAD = len(_FENCE) * 2 + 2
"""Characters a fenced block adds around its body: two fences and their newlines."""


def escape_mrkdwn(text: str) -> str:
    """Slack's three control characters, escaped; formatting like `*` is left alone."""
    return text.translate(_ESCAPES)


_NAME_MARKUP = str.maketrans({"*": "\uff0a", "_": "\uff3f", "~": "\uff5e", "`": "\uff40"})


def escape_name(name: str) -> str:
    """A name chosen by a user or in Skyvia, escaped so it always reads literally in mrkdwn.

    Slack has no escape for `*`, `_`, `~` and `` ` ``: inside `*{name}*` a name like `*Bold*
    _it_` would close the bold early and turn the rest italic. Each of the four becomes its
    fullwidth form (`＊`, `＿`, `～`, `｀`), which Slack's formatter does not treat as markup.

    Why not zero-width characters around them (the usual trick)? Whether Slack treats U+200B
    as a word boundary is undocumented, and users rely on exactly that to format *inside* a
    word, so it may as well enable markup as disable it. The fullwidth forms never do, read as
    the same character, and fold back to the ASCII ones under NFKC, so a name copied from a
    message still matches after Unicode normalisation. plain_text objects were the other way
    out, but a name sits in one line with mentions and dates, which only mrkdwn renders.
    Each replacement is one character for one, so cutting works as for `escape_mrkdwn`.
    """
    return escape_mrkdwn(name).translate(_NAME_MARKUP)


def escape_name_cut(name: str, limit: int) -> str:
    """`escape_name`, then cut to `limit` characters, like `escape_cut`."""
    return cut_escaped(escape_name(name[: limit + 1]), limit)


def cut_escaped(escaped: str, limit: int) -> str:
    """Cut already escaped text to `limit` characters (with `…`).

    Never inside an entity, and never inside one of the bot's own `<...>` sequences (mentions,
    dates): in escaped text every raw `<` is ours, so an unclosed one is dropped whole.
    """
    if len(escaped) <= limit:
        return escaped
    cut = escaped[: max(0, limit - len(ELLIPSIS))]
    amp = cut.rfind("&", max(0, len(cut) - _LONGEST_ENTITY + 1))
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    opening = cut.rfind("<")
    if opening > cut.rfind(">"):
        cut = cut[:opening]
    return cut + ELLIPSIS


def escape_cut(raw: str, limit: int) -> str:
    """Escape, then cut to `limit`; the workhorse for anything user- or Skyvia-provided."""
    # Escaping a megabyte is cheap (str.translate), but there is no need to escape what is cut.
    return cut_escaped(escape_mrkdwn(raw[: limit + 1]), limit)


def cut_plain(text: str, limit: int) -> str:
    """Cut plain_text (button labels, headers, titles) where no escaping applies."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(ELLIPSIS))] + ELLIPSIS


NAME_LIMIT = 100
"""A backup name is shown at most this long: a 200-character name must not crowd the message."""


def backup_label(name: str | None, backup_id: int) -> str:
    """`*Nightly CRM* (456)`: the one way a backup is named in every message."""
    return f"*{escape_name_cut(name or f'Backup {backup_id}', NAME_LIMIT)}* ({backup_id})"


def backup_label_plain(name: str | None, backup_id: int) -> str:
    """The fallback-text twin of `backup_label` (still escaped: fallback text is mrkdwn too)."""
    return f"{escape_name_cut(name or f'Backup {backup_id}', NAME_LIMIT)} ({backup_id})"


def user_mention(user_id: str) -> str:
    """`<@U123>` for a real Slack user id; anything else is shown escaped and pings nobody."""
    if _USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return escape_cut(user_id, 40)


def person_or_group_mention(slack_id: str) -> str:
    """`<@U123>` for a user, `<!subteam^S123>` for a user group; anything else pings nobody."""
    if _GROUP_ID.fullmatch(slack_id):
        return f"<!subteam^{slack_id}>"
    return user_mention(slack_id)


def channel_mention(channel_id: str) -> str:
    if _CHANNEL_ID.fullmatch(channel_id):
        return f"<#{channel_id}>"
    return escape_cut(channel_id, 40)


_PERMALINK = re.compile(
    r"https://[a-z0-9-]+(?:\.[a-z0-9-]+)*\.slack\.com/archives/[CGD][A-Z0-9]+/p\d+"
    r"(?:\?thread_ts=\d+\.\d+&cid=[CGD][A-Z0-9]+)?"
)


def message_link(url: str | None, text: str) -> str:
    """`<url|text>` for a Slack message permalink; "" for anything else.

    Only Slack's own permalink shape passes, so a link can never smuggle markup or point
    elsewhere; `&` in the query is written as the entity Slack expects.
    """
    if url is None or not _PERMALINK.fullmatch(url):
        return ""
    return f"<{url.replace('&', '&amp;')}|{escape_mrkdwn(text)}>"


def slack_date(moment: datetime, fmt: str = "{date_short_pretty} at {time}") -> str:
    """Slack renders this in each reader's time zone; the fallback names UTC explicitly."""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    fallback = utc.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(utc.timestamp())}^{fmt}|{fallback}>"


def format_duration(seconds: float) -> str:
    """`42s`, `5m 12s`, `1h 04m`, `2d 03h`: two units at most, read at a glance."""
    total = max(0, round(seconds))
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours:02d}h"


def format_count(count: int) -> str:
    return f"{count:,}"


def plural(count: int, noun: str) -> str:
    """`1 row`, `1,000 rows`."""
    return f"{format_count(count)} {noun}{'' if count == 1 else 's'}"


_STATE_EMOJI = {
    SnapshotState.NEW: ":hourglass_flowing_sand:",
    SnapshotState.QUEUED: ":hourglass_flowing_sand:",
    SnapshotState.RUNNING: ":arrows_counterclockwise:",
    SnapshotState.SUCCEEDED: ":white_check_mark:",
    SnapshotState.FAILED: ":x:",
    SnapshotState.CANCELING: ":no_entry_sign:",
    SnapshotState.CANCELED: ":no_entry_sign:",
}
UNKNOWN_STATE_EMOJI = ":grey_question:"

_STATE_PHRASE = {
    SnapshotState.NEW: "is starting",
    SnapshotState.QUEUED: "is queued",
    SnapshotState.RUNNING: "is running",
    SnapshotState.SUCCEEDED: "succeeded",
    SnapshotState.FAILED: "failed",
    SnapshotState.CANCELING: "is being canceled",
    SnapshotState.CANCELED: "was canceled",
}


def state_emoji(state: SnapshotState | str) -> str:
    return _STATE_EMOJI.get(SnapshotState(state), UNKNOWN_STATE_EMOJI)


def state_phrase(state: SnapshotState | str) -> str:
    """What a snapshot in `state` is doing, as the end of "Snapshot of X (1) …"."""
    state = SnapshotState(state)
    return _STATE_PHRASE.get(state, f"is in state {escape_cut(str(state), 40)}")


def state_name(state: SnapshotState | str) -> str:
    """The state's own word, escaped (an unknown state is Skyvia's text)."""
    return escape_cut(str(SnapshotState(state)), 40)


@dataclass(frozen=True)
class CodeBlock:
    """A fenced log excerpt and how much of the log did not fit in it."""

    text: str
    lines_total: int
    lines_hidden: int

    @property
    def cut(self) -> bool:
        return self.lines_hidden > 0


def code_block(raw: str, *, max_lines: int = 20, max_chars: int = 2500) -> CodeBlock:
    """Fence `raw` so nothing inside can end the fence early, cut to lines and characters.

    `max_chars` bounds the *rendered* block, fences included, so it can go straight into a
    section. A backtick gets a zero-width space after it: no run of three can form, yet the
    text still reads (and copies) as the original.
    """
    lines = raw.splitlines() or [""]
    total = len(lines)
    shown = lines[:max_lines]
    body = escape_mrkdwn("\n".join(shown)).replace("`", "`" + _ZERO_WIDTH_SPACE)
    budget = max_chars - CODE_BLOCK_OVERHEAD
    complete = len(shown)
    if len(body) > budget:
        body = cut_escaped(body, budget)
        # The line the cut landed in is not complete: it counts as hidden.
        complete = body.count("\n")
    return CodeBlock(
        text=f"{_FENCE}\n{body}\n{_FENCE}", lines_total=total, lines_hidden=total - complete
    )


def more_lines_note(hidden: int) -> str:
    """The line under a cut log, pointing at the Show log button next to it."""
    return f"{ELLIPSIS} {plural(hidden, 'more line')} — Show log"
