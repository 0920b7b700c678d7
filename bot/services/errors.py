"""Domain errors raised by services and worded once, by the message layer.

Services raise these (and the Skyvia errors) instead of returning error values, so a handler's
happy path stays straight. Each carries its kind (its class) and the facts (ids, names), never
the words: `bot.slack.messages.refusals` writes what the user reads, so every refusal reads the
same way wherever it is shown (an ephemeral message, a modal's field, a Workflow Builder step).
"""

from __future__ import annotations


class DomainError(Exception):
    """An expected refusal; its class says what went wrong, its attributes the facts."""

    def __str__(self) -> str:
        """For log lines: the kind and the facts, e.g. `TokenRejected(workspace_id=124)`."""
        facts = ", ".join(f"{name}={value!r}" for name, value in vars(self).items())
        return f"{type(self).__name__}({facts})"


class WordedRefusal(DomainError):
    """A refusal worded where it is raised, above the services: the authorizer's rules, a
    Workflow Builder step's inputs. `what` went wrong and `fix` says how to put it right."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix

    def __str__(self) -> str:
        return self.what


class NotBound(DomainError):
    """The channel is not connected to a Skyvia workspace."""


class NotInChannel(DomainError):
    """The bot cannot post in the request's channel: it is private and the bot not a member."""


class SlackBusy(DomainError):
    """Slack's rate limit for the channel (or the workspace) left the bot no turn in time, so
    nothing was posted: `retry_after` seconds until one may come."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


class NotAllowed(WordedRefusal):
    """The user lacks the role; `rule` is the sentence naming the rule."""

    def __init__(self, rule: str, fix: str = "Ask a Slack workspace admin.") -> None:
        super().__init__(rule, fix)
        self.rule = rule


class NoDefaultToken(DomainError):
    """No default Skyvia token is configured, and the binding has no token of its own."""


class DefaultTokenRefused(NoDefaultToken):
    """The bot has a default Skyvia token, but it is not for this Slack team.

    In a multi-workspace install any team can add the app; the operator's own Skyvia account
    must not be reachable from a stranger's workspace, so only the teams listed in
    SKYVIA_BOT_DEFAULT_TOKEN_TEAMS may use it.
    """


class ConnectRefused(DomainError):
    """Skyvia refused the workspace a `connect` named; `outcome` is the audit's word for it."""

    outcome = "refused"

    def __init__(self, workspace_id: int) -> None:
        super().__init__(workspace_id)
        self.workspace_id = workspace_id


class TokenRejected(ConnectRefused):
    outcome = "rejected token"


class WorkspaceNotFound(ConnectRefused):
    outcome = "not found"
