"""The `Message` every builder returns, the pieces all builders share, and the error messages.

Slack's limits (docs/reference/messages.md#slacks-limits) are enforced here once: a builder
that stays with these helpers cannot produce a block Slack would reject. `slack_sdk`'s model
classes validate on `to_dict()`, so a mistake fails in the unit tests, not in a channel.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ConfirmObject,
    ContextBlock,
    MarkdownTextObject,
    OverflowMenuElement,
    SectionBlock,
    StaticSelectElement,
)

from bot.slack.grammar.usage import UsageError
from bot.slack.messages.ids import ActionId
from bot.slack.messages.mrkdwn import (
    cut_escaped,
    cut_plain,
    escape_cut,
    escape_mrkdwn,
    format_count,
)
from bot.slack.messages.payloads import Payload

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
SECTION_TEXT_LIMIT = 3000
CONTEXT_TEXT_LIMIT = 3000
BUTTON_TEXT_LIMIT = 75
CONFIRM_TEXT_LIMIT = 300
CONFIRM_TITLE_LIMIT = 100
CONFIRM_BUTTON_LIMIT = 30
FALLBACK_TEXT_LIMIT = 3000
"""Slack truncates `text` far later (40k); notifications only show the start anyway."""

WARNING = ":warning:"


@dataclass(frozen=True)
class Message:
    """A message ready for `chat.postMessage`, `chat.update`, `respond` or `postEphemeral`.

    `text` is the plain fallback Slack shows in notifications and screen readers; it is mrkdwn
    too, so builders escape it like the blocks.
    """

    text: str
    blocks: list[Block] = field(default_factory=list)
    _block_dicts: list[dict[str, Any]] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _json: str | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.text.strip():
            raise ValueError("every message needs fallback text")
        if len(self.blocks) > MAX_MESSAGE_BLOCKS:
            raise ValueError(f"{len(self.blocks)} blocks exceed Slack's {MAX_MESSAGE_BLOCKS}")

    def to_dict(self) -> dict[str, Any]:
        """`{"text", "blocks"}`; validates every block against Slack's limits, once.

        The validated dicts are kept and reused: the alert scanner posts one message to every
        listening channel, and re-validating it per post was a fifth of the bot's CPU per alert
        in the benchmark. A message is not changed after it is built, so one check covers every
        send. Each call returns a new dict and list; the block dicts are shared (read-only).
        """
        if self._block_dicts is None:
            object.__setattr__(self, "_block_dicts", [block.to_dict() for block in self.blocks])
        assert self._block_dicts is not None
        return {"text": self.text, "blocks": list(self._block_dicts)}

    def json(self) -> str:
        """`to_dict()` as JSON, made once: an alert owed to many channels is one string."""
        cached = self._json
        if cached is None:
            cached = json.dumps(self.to_dict(), separators=(",", ":"))
            object.__setattr__(self, "_json", cached)
        return cached

    @classmethod
    def from_dicts(cls, text: str, blocks: list[dict[str, Any]]) -> Message:
        """A message read back from the outbox: its blocks were validated when it was owed."""
        message = cls(text)
        object.__setattr__(message, "_block_dicts", blocks)
        return message

    def kwargs(self, **extra: Any) -> dict[str, Any]:
        """`to_dict()` plus call arguments: `client.chat_update(**m.kwargs(channel=c, ts=t))`."""
        return {**self.to_dict(), **extra}


def fallback(text: str) -> str:
    """Fallback text from already escaped mrkdwn, cut to a sane length."""
    return cut_escaped(text, FALLBACK_TEXT_LIMIT)


def section(
    text: str, *, accessory: ButtonElement | OverflowMenuElement | None = None
) -> SectionBlock:
    """A mrkdwn section from already escaped text, cut safely to Slack's 3,000 characters."""
    return SectionBlock(
        text=MarkdownTextObject(text=cut_escaped(text, SECTION_TEXT_LIMIT)), accessory=accessory
    )


def context(*parts: str, separator: str = " · ") -> ContextBlock:
    """One context line from already escaped parts; empty parts are skipped."""
    text = separator.join(part for part in parts if part)
    return ContextBlock(
        elements=[MarkdownTextObject(text=cut_escaped(text, CONTEXT_TEXT_LIMIT) or " ")]
    )


def past_end_note(asked: int | None, shown: int, pages: int | None) -> str:
    """Why a list shows another page than the one typed (docs/reference/commands.md#input-rules):
    `There is only one page, so this is page 1 (you asked for page 2).` Empty when the page asked
    for was shown; `pages` is None when the list's length is not known (Skyvia's snapshot
    listing only says whether more follow)."""
    if asked is None or asked == shown:
        return ""
    if pages is None:
        return f"Page {asked} is past the end, so this is page {shown}."
    there = "There is only one page" if pages == 1 else f"There are only {pages} pages"
    return f"{there}, so this is page {shown} (you asked for page {asked})."


def confirm_dialog(
    *, title: str, text: str, confirm: str, deny: str = "Cancel", danger: bool = False
) -> ConfirmObject:
    """A confirm dialog; `text` is already escaped mrkdwn and is cut to Slack's 300 characters."""
    return ConfirmObject(
        title=cut_plain(title, CONFIRM_TITLE_LIMIT),
        text=MarkdownTextObject(text=cut_escaped(text, CONFIRM_TEXT_LIMIT)),
        confirm=cut_plain(confirm, CONFIRM_BUTTON_LIMIT),
        deny=cut_plain(deny, CONFIRM_BUTTON_LIMIT),
        style="danger" if danger else None,
    )


def button(
    text: str,
    action_id: ActionId,
    value: Payload | None = None,
    *,
    primary: bool = False,
    danger: bool = False,
    confirm: ConfirmObject | None = None,
) -> ButtonElement:
    """A button whose value is a typed payload; `primary` and `danger` map to Slack styles."""
    style = "primary" if primary else "danger" if danger else None
    return ButtonElement(
        text=cut_plain(text, BUTTON_TEXT_LIMIT),
        action_id=str(action_id),
        value=value.dump() if value is not None else None,
        style=style,
        confirm=confirm,
    )


def actions(*buttons: ButtonElement | StaticSelectElement | None) -> ActionsBlock | None:
    """An actions block of the buttons given (None entries skipped), or None when empty."""
    elements = [b for b in buttons if b is not None]
    return ActionsBlock(elements=elements) if elements else None


def fit_lines(lines: Sequence[str], limit: int = SECTION_TEXT_LIMIT) -> str:
    """Join whole lines (already escaped) while they fit; then "… and N more" instead of a cut.

    A list cut mid-line would also cut a mention or a date in half; whole lines never do. Lines
    that fill `limit` exactly are all kept; while more lines follow, room stays for the note.
    """
    whole = "\n".join(lines)
    if len(whole) <= limit:
        return whole
    kept: list[str] = []
    size = -1  # the length of "\n".join(kept); the first line needs no separator
    for index, line in enumerate(lines):
        after = len(lines) - index - 1
        reserve = len(f"\n… and {format_count(after)} more") if after else 0
        if size + 1 + len(line) + reserve > limit:
            kept.append(f"… and {format_count(after + 1)} more")
            break
        kept.append(line)
        size += 1 + len(line)
    return "\n".join(kept)


def compact(blocks: Sequence[Block | None]) -> list[Block]:
    return [block for block in blocks if block is not None]


def refusal_message(what: str, fix: str) -> Message:
    """⚠️ what went wrong, how to fix it — visible to the user only (the caller sends it so).

    Both sentences are written by the bot but may quote user input, so `<`, `>` and `&` are
    escaped here; backtick code and *bold* still work.
    """
    text = f"{WARNING} {escape_mrkdwn(what.strip())} {escape_mrkdwn(fix.strip())}".strip()
    return Message(text=fallback(text), blocks=[section(text)])


SUGGESTION_LIMIT = 200


def usage_error_message(error: UsageError) -> Message:
    """What was wrong with the command, and one way on.

    A corrected command that parses is the whole hint ("Did you mean `/skyvia alerts mute
    456`?"): no usage and no pointer to help under it. Otherwise the usage lines follow, with
    the pointer to `/skyvia help`.
    """
    what = escape_cut(error.message, 500)
    if error.suggestion:
        what += f" Did you mean `{escape_cut(f'/skyvia {error.suggestion}', SUGGESTION_LIMIT)}`?"
    usage = "\n".join(f"• {escape_mrkdwn(line)}" for line in error.usage.splitlines() if line)
    blocks = compact(
        [
            section(f"{WARNING} {what}"),
            section(usage) if usage else None,
            context("Type `/skyvia help` for every command.") if usage else None,
        ]
    )
    return Message(text=fallback(f"{WARNING} {what}"), blocks=blocks)


def unexpected_error_message(reference: str) -> Message:
    """For a bug or an outage we did not foresee: a reference that is also in the log."""
    ref = escape_cut(reference, 40)
    text = (
        f"{WARNING} Something went wrong on the bot's side (reference `{ref}`). "
        "Try again; if it keeps happening, give the reference to the bot's admin."
    )
    return Message(text=fallback(text), blocks=[section(text)])
