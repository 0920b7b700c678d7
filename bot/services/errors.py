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


class DefaultTokenRefused(NoDefaultToken):
    """The bot has a default Skyvia token, but it is not for this Slack team.

    In a multi-workspace install any team can add the app; the operator's own Skyvia account
    must not be reachable from a stranger's workspace, so only the teams listed in
    SKYVIA_BOT_DEFAULT_TOKEN_TEAMS may use it.
    """

    def __init__(self) -> None:
        DomainError.__init__(
            self,
            "This bot's default Skyvia token does not serve this Slack workspace.",
            "Connect with an access token of your own Skyvia account: run `/skyvia connect` "
            "and paste it in the form.",
        )


DEFAULT_TOKEN_REFUSED_REASON = (
    "the bot's default Skyvia token no longer serves this Slack workspace; an admin can "
    "reconnect with the workspace's own token (`/skyvia connect`)"
)
"""Shown by `status` for a binding paused because its team lost the default token."""


class ConnectRefused(DomainError):
    """Skyvia refused the workspace a `connect` named; `outcome` is the audit's word for it."""

    outcome = "refused"


class TokenRejected(ConnectRefused):
    outcome = "rejected token"

    def __init__(self, workspace_id: int) -> None:
        super().__init__(
            f"Skyvia rejected the access token for workspace {workspace_id}.",
            "Check the token (Skyvia → Account Settings → API Settings) and that it covers "
            "this workspace, then run `/skyvia connect` again.",
        )


class WorkspaceNotFound(ConnectRefused):
    outcome = "not found"

    def __init__(self, workspace_id: int) -> None:
        super().__init__(
            f"Workspace {workspace_id} was not found in Skyvia.",
            "Check the id in the Skyvia URL of the workspace and run `/skyvia connect` again.",
        )
