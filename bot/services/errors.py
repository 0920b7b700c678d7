"""Domain errors raised by services and rendered once by the handlers' error handler.

Services raise these (and the Skyvia errors) instead of returning error values, so a handler's
happy path stays straight and every refusal reads the same way in Slack.
"""

from __future__ import annotations


class DomainError(Exception):
    """An expected refusal: `what` went wrong and `fix` says how to put it right."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


class NotBound(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "This channel is not connected to a Skyvia workspace.",
            "An admin can run `/skyvia connect <workspaceId>` here.",
        )


class NotAllowed(DomainError):
    """The user lacks the role; `rule` is the sentence naming the rule."""

    def __init__(self, rule: str, fix: str = "Ask a Slack workspace admin.") -> None:
        super().__init__(rule, fix)
        self.rule = rule


class NoDefaultToken(DomainError):
    def __init__(self) -> None:
        super().__init__(
            "No default Skyvia token is configured for this bot.",
            "Run `/skyvia connect` without an id to enter the workspace id and an access token.",
        )
