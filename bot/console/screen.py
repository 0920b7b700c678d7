"""What the console has on screen: each message shown, and the button numbers it holds.

Numbers are handed out once per message, in the order messages appear, so `click 2` keeps
meaning the same button after that message is updated. A message that grows more buttons than
it had numbers gets a fresh range; its old numbers then point nowhere rather than somewhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.console.render import Button, Names, Rendered, render_blocks, render_message


@dataclass
class Shown:
    """A message on screen: where it lives (for clicks) and the numbers its buttons hold."""

    kind: str  # "channel", "ephemeral", "response", "home", "modal"
    channel_id: str | None
    ts: str | None = None
    view_id: str | None = None
    first_number: int = 0
    size: int = 0
    buttons: list[Button] = field(default_factory=list)


class Screen:
    """The shown messages by key (e.g. `channel:C1:1700000000.000100`) and their numbers."""

    def __init__(self, names: Names) -> None:
        self._names = names
        self._shown: dict[str, Shown] = {}
        self._numbers: dict[int, str] = {}
        self._next_number = 1

    def __getitem__(self, key: str) -> Shown:
        return self._shown[key]

    def put(self, key: str, shown: Shown) -> None:
        self._shown[key] = shown

    def keep(self, key: str, shown: Shown) -> None:
        """Adds `shown` unless `key` is on screen already (an update keeps its numbers)."""
        self._shown.setdefault(key, shown)

    def button(self, number: int) -> tuple[str, Button] | None:
        """The message key and the button that `number` stands for, if any."""
        key = self._numbers.get(number)
        if key is None:
            return None
        shown = self._shown[key]
        return key, shown.buttons[number - shown.first_number]

    def render(self, key: str, message: dict[str, Any]) -> Rendered:
        """Renders the message at `key` with its own numbers (see the module docstring)."""
        shown = self._shown[key]
        count = len(render_blocks(message.get("blocks") or []).buttons)
        if count > shown.size:
            self._forget_numbers(key)
            shown.first_number, shown.size = self._next_number, count
            self._next_number += count
            for number in range(shown.first_number, shown.first_number + count):
                self._numbers[number] = key
        rendered = render_message(message, names=self._names, first_number=shown.first_number)
        shown.buttons = rendered.buttons
        for offset in range(len(rendered.buttons), shown.size):
            self._numbers.pop(shown.first_number + offset, None)
        return rendered

    def forget(self, key: str) -> None:
        self._forget_numbers(key)
        self._shown.pop(key, None)

    def _forget_numbers(self, key: str) -> None:
        for number in [n for n, k in self._numbers.items() if k == key]:
            del self._numbers[number]
