"""A modal answered at the prompt: its text fields asked one by one, then submitted.

Only plain-text inputs can be typed; after the bot answers with field errors, only the wrong
fields are asked again and the other answers are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.console.render import text_object


@dataclass
class Field:
    block_id: str
    action_id: str
    label: str
    optional: bool
    initial: str


@dataclass
class Modal:
    """A modal being answered field by field; after errors only the wrong fields are asked."""

    view: dict[str, Any]
    fields: list[Field]
    ask: list[Field]
    answers: dict[str, str] = field(default_factory=dict)
    index: int = 0

    @property
    def current(self) -> Field:
        return self.ask[self.index]

    @property
    def complete(self) -> bool:
        return self.index >= len(self.ask)

    def answer(self, text: str) -> str | None:
        """Takes the line for the current field (empty keeps its value); a problem, or None."""
        current = self.current
        value = text or current.initial
        if not value and not current.optional:
            return f"{current.label} is required."
        self.answers[current.block_id] = value
        self.index += 1
        return None

    def values(self) -> dict[str, dict[str, str]]:
        """The answers as `view.state.values` of a submission: block id -> action id -> value."""
        by_block = {f.block_id: f for f in self.fields}
        return {
            block_id: {by_block[block_id].action_id: value}
            for block_id, value in self.answers.items()
        }

    def label(self, block_id: str) -> str:
        return next((f.label for f in self.fields if f.block_id == block_id), block_id)

    def retry(self, errors: dict[str, str]) -> Modal:
        """The same modal asking again only the fields with errors (all, if none is named)."""
        ask = [f for f in self.fields if f.block_id in errors] or self.fields
        return Modal(view=self.view, fields=self.fields, ask=ask, answers=dict(self.answers))


def modal_fields(view: dict[str, Any]) -> tuple[list[Field], list[str]]:
    """The view's plain-text inputs, and the types of the inputs that cannot be typed here."""
    fields: list[Field] = []
    unsupported: list[str] = []
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block.get("element") or {}
        if element.get("type") != "plain_text_input":
            unsupported.append(str(element.get("type")))
            continue
        fields.append(
            Field(
                block_id=str(block.get("block_id")),
                action_id=str(element.get("action_id")),
                label=" ".join(text_object(block.get("label"))),
                optional=bool(block.get("optional")),
                initial=str(element.get("initial_value") or ""),
            )
        )
    return fields, unsupported
