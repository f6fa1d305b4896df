"""Helpers for the web tests: a small fake-embedder index and a real server on a free port."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from qa.assistant import Assistant
from qa.build import build_index
from qa.config import Settings
from qa.embedding import Embedder, HashingEmbedder
from qa.qlog import QuestionLog
from qa.web.server import create_app

KNOWLEDGE = Path(__file__).resolve().parents[1] / "knowledge"
# Every test talks from one loopback address, far faster than a person: the limiter runs but never bites.
# (tests/test_ratelimit.py sets a real limit where it tests limiting.)
GENEROUS_RATE_LIMIT = 100_000
CASE_FILES = ("00-overview.md", "01-5g-mobile-court.md", "02-rongchang-mediation.md", "04-jingkuaiban.md")
# A case whose every field carries markup: the page must show it as text and never run it. Written as
# entities because corpus loading strips pasted tags; an entity is literal text, so the markup reaches the index.
XSS_CASE = """---
id: xss-probe
title: "测试桥&lt;img src=x onerror=\\"window.__xss=1\\"&gt;案例"
unit: "测试单位&lt;b&gt;粗体&lt;/b&gt;"
region: "重庆市"
level: "市级"
rank: 9
source: "测试"
aliases: ["测试桥"]
---
“测试桥”注册人数&lt;img src=x onerror=window.__xss=1&gt;88万人,&lt;script&gt;window.__xss=2&lt;/script&gt;覆盖全市。
"""


def build_web_index(root: Path, with_xss_case: bool = True) -> Settings:
    """A few real cases (no golden checks: they are tuned for the real model), indexed with the fake embedder."""
    knowledge = root / "knowledge"
    knowledge.mkdir(parents=True)
    for name in CASE_FILES:
        shutil.copy(KNOWLEDGE / name, knowledge / name)
    if with_xss_case:
        (knowledge / "99-xss.md").write_text(XSS_CASE, encoding="utf-8")
    settings = Settings(
        knowledge_dir=knowledge,
        index_dir=root / "index",
        cache_dir=root / "cache",
        db_path=root / "q.sqlite3",
        rate_limit_per_minute=GENEROUS_RATE_LIMIT,
        reader_mode="hybrid",  # the fake embedder's world, as in conftest.settings
    )
    build_index(settings, HashingEmbedder(), progress=False)
    return settings


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list[int]:
    """``n`` distinct free ports: each socket stays bound until all are chosen, since a port given
    back may be the next one handed out (nginx's TLS port once was a replica's, and TLS met plain HTTP)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in socks]


@dataclass
class Live:
    url: str
    settings: Settings
    qlog: QuestionLog
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    def stop(self) -> None:
        """Stop this server before the context ends (a replica going down)."""
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(15)


@contextmanager
def live_server(settings: Settings, port: int | None = None, embedder: Embedder | None = None) -> Iterator[Live]:
    """The real app under uvicorn in a thread on 127.0.0.1 (``port``, or a free one); stopped on exit.

    The fake embedder unless one is given (the real model, for behaviour that only it shows).
    """
    assistant = Assistant.load(settings=settings, embedder=embedder or HashingEmbedder())
    qlog = QuestionLog(settings.db_path, log_ip=settings.log_ip)
    app = create_app(assistant, settings, qlog)
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=1,
            proxy_headers=False,  # as `qa serve`: X-Forwarded-For only from QA_TRUSTED_PROXIES
        )
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test server did not start")
        time.sleep(0.05)
    try:
        yield Live(f"http://127.0.0.1:{port}/", settings, qlog, server, thread)
    finally:
        server.should_exit = True
        thread.join(15)
