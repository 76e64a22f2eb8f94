"""Who may call what: the decision alone, from the route's access class and what the
caller proved. Checking passwords and tokens is I/O and lives in receiver.web.auth.

The model is the Prometheus ecosystem's: the web config file's `basic_auth_users` may
read; the config file's `auth.admins` narrows who may act; the webhook takes what
Alertmanager's `http_config` sends, a bearer token or basic auth.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator


class Access(enum.Enum):
    PUBLIC = "public"  # anyone, never asked for credentials (health probes)
    WEBHOOK = "webhook"  # Alertmanager, with the credentials its http_config brings
    READ = "read"  # people and tools reading history (the JSON API's GETs, the pages)
    ADMIN = "admin"  # operators' actions (reloading, retrying, acknowledging)


class WebhookAuth(BaseModel):
    """`auth.webhook`: what POST /alerts requires, as Alertmanager's http_config sends it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bearer_token: str | None = None
    bearer_token_file: Path | None = None
    users: list[str] | None = None  # basic-auth users of the web config file who may post

    @model_validator(mode="after")
    def _one_token(self) -> WebhookAuth:
        if self.bearer_token is not None and self.bearer_token_file is not None:
            raise ValueError("give bearer_token or bearer_token_file, not both")
        if self.bearer_token == "":
            raise ValueError("bearer_token is empty; set it, or remove the key")
        return self


class AuthSection(BaseModel):
    """The config file's `auth`: roles on top of the web config file's users."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    admins: list[str] | None = None  # who may act; unset: every signed-in user
    webhook: WebhookAuth = WebhookAuth()


@dataclass(frozen=True)
class Policy:
    users: frozenset[str] = frozenset()  # the web config's users; none: no sign-in at all
    admins: frozenset[str] | None = None
    webhook_users: frozenset[str] | None = None
    webhook_token: bool = False

    @property
    def signs_in(self) -> bool:
        return bool(self.users)


@dataclass(frozen=True)
class Caller:
    user: str | None = None  # a user whose password checked out
    token: bool = False  # presented the webhook's bearer token


class Verdict(enum.Enum):
    ALLOW = "allow"
    UNAUTHENTICATED = "unauthenticated"  # 401: credentials missing or wrong
    FORBIDDEN = "forbidden"  # 403: known, but not allowed this


def decide(policy: Policy, access: Access, caller: Caller) -> Verdict:
    if access is Access.PUBLIC:
        return Verdict.ALLOW
    if access is Access.WEBHOOK:
        return _webhook(policy, caller)
    if not policy.signs_in:
        return Verdict.ALLOW
    if caller.user is None:
        return Verdict.UNAUTHENTICATED
    if access is Access.READ or policy.admins is None or caller.user in policy.admins:
        return Verdict.ALLOW
    return Verdict.FORBIDDEN


def _webhook(policy: Policy, caller: Caller) -> Verdict:
    """With a token configured, the token (or a user named in `webhook.users`); without
    one, any signed-in user unless `webhook.users` names who; with neither, anyone."""
    if not policy.webhook_token and not policy.signs_in:
        return Verdict.ALLOW
    if caller.token:
        return Verdict.ALLOW
    if caller.user is None:
        return Verdict.UNAUTHENTICATED
    if policy.webhook_users is not None:
        allowed = caller.user in policy.webhook_users
    else:
        allowed = not policy.webhook_token
    return Verdict.ALLOW if allowed else Verdict.FORBIDDEN
