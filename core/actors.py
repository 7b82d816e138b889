"""Who performs a change: a cockpit user, an API token, or a system job."""

import contextvars
from dataclasses import dataclass
from typing import Any

# The request a change is made in (set by ``core.middleware.RequestIdMiddleware``), for its audit entries.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("current_request_id", default="")


@dataclass(frozen=True)
class Actor:
    kind: str  # "user" | "token" | "system"
    user: Any = None
    token: Any = None
    job: str = ""

    @classmethod
    def for_user(cls, user) -> "Actor":
        return cls(kind="user", user=user)

    @classmethod
    def for_token(cls, token) -> "Actor":
        return cls(kind="token", token=token)

    @classmethod
    def system(cls, job: str) -> "Actor":
        return cls(kind="system", job=job)

    @property
    def label(self) -> str:
        if self.kind == "user":
            full_name = self.user.get_full_name() if hasattr(self.user, "get_full_name") else ""
            return full_name or self.user.get_username()
        if self.kind == "token":
            return f"API token “{self.token.name}”"
        return f"System ({self.job})"

    @property
    def audit_fields(self) -> dict:
        return {
            "actor_type": self.kind,
            "actor_user": self.user if self.kind == "user" else None,
            "actor_token": self.token if self.kind == "token" else None,
            "actor_label": self.label[:200],
        }
