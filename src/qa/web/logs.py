"""Logging for ``qa serve``: INFO and above from everyone, nothing below, whatever a library sets.

Some dependencies set their own logger to DEBUG at import (bm25s does), and a
logger's own level wins over the root's, so ``basicConfig(level=INFO)`` alone
still let their DEBUG lines into the service log. The level is therefore set on
the handler too: a record below it is dropped whichever logger made it.
``QA_LOG_LEVEL`` (``DEBUG``, ``INFO``, ``WARNING``…) changes it for a session of debugging.
"""

from __future__ import annotations

import logging
import os
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def level_from_env(default: int = logging.INFO) -> int:
    name = os.environ.get("QA_LOG_LEVEL", "").strip().upper()
    value = logging.getLevelName(name) if name else default
    return value if isinstance(value, int) else default


def configure(level: int | None = None, stream: TextIO | None = None) -> logging.Handler:
    """One handler on the root logger, filtering by ``level`` itself; returns it."""
    level = level_from_env() if level is None else level
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.setLevel(level)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    return handler


__all__ = ["configure", "level_from_env"]
