"""The service log: INFO and above, and no DEBUG lines from dependencies that set their own level (bm25s)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from qa.web import logs


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def test_dependencies_debug_lines_stay_out_of_the_service_log(
    restore_logging: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bm25s  # noqa: F401  (sets its own logger to DEBUG at import)

    monkeypatch.delenv("QA_LOG_LEVEL", raising=False)
    stream = io.StringIO()
    logs.configure(stream=stream)
    assert logging.getLogger("bm25s").level == logging.DEBUG  # the library's choice, left alone
    logging.getLogger("bm25s").debug("bm25s debug line")
    logging.getLogger("qa.web.test").debug("our own debug line")
    logging.getLogger("qa.web.test").info("service started")
    assert "debug line" not in stream.getvalue()
    assert "INFO qa.web.test: service started" in stream.getvalue()


def test_qa_log_level_turns_debugging_on(restore_logging: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_LOG_LEVEL", "debug")
    stream = io.StringIO()
    logs.configure(stream=stream)
    logging.getLogger("bm25s").debug("now shown")
    assert "now shown" in stream.getvalue()
    monkeypatch.setenv("QA_LOG_LEVEL", "nonsense")
    assert logs.level_from_env() == logging.INFO
