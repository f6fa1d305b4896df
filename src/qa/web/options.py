"""Settings that only the web front end reads (``QA_SESSION_RATE_LIMIT``).

They would sit in :class:`qa.config.Settings`; they live here so that the web
package can grow them without touching the engine's configuration. Like
``Settings`` they are read from the environment once, by :meth:`WebOptions.from_env`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..config import Settings


@dataclass(frozen=True)
class WebOptions:
    """``session_rate_limit``: questions per minute per chat session; None means "as QA_RATE_LIMIT", 0 off."""

    session_rate_limit: int | None = None

    @classmethod
    def from_env(cls) -> WebOptions:
        raw = os.environ.get("QA_SESSION_RATE_LIMIT", "").strip()
        if not raw:
            return cls()
        try:
            return cls(session_rate_limit=int(raw))
        except ValueError as exc:
            raise ValueError(f"QA_SESSION_RATE_LIMIT must be an integer, got {raw!r}") from exc

    def session_limit(self, settings: Settings) -> int:
        """The per-session limit in force: the configured one, or the per-address one when unset."""
        return settings.rate_limit_per_minute if self.session_rate_limit is None else self.session_rate_limit


__all__ = ["WebOptions"]
