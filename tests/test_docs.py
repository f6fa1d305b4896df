"""The docs' examples, checked: the curl lines of docs/api.md run against a live server, the README's
example answer against the real model, and one way of writing commands throughout."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.webapp import Live, build_web_index, live_server

REPO = Path(__file__).resolve().parents[1]
API_DOC = REPO / "docs" / "api.md"
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md")), REPO / "knowledge" / "README.md", REPO / "index" / "README.md"]
DOC_HOST = "http://127.0.0.1:7860"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.S | re.M)


def fenced(path: Path, *languages: str) -> list[str]:
    return [body for lang, body in FENCE.findall(path.read_text(encoding="utf-8")) if lang in languages]


def commands(block: str) -> list[str]:
    """The shell commands of a block: continuation lines joined, comments and output left out."""
    joined = re.sub(r"\\\n\s*", " ", block)
    lines = [line.removeprefix("$ ") for line in joined.splitlines() if not block.count("$ ") or line.startswith("$ ")]
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


# ---- one way of writing commands ---------------------------------------------------------------------


BARE = re.compile(r"^(?:[A-Z_]+=\S+\s+)*(qa|python3?|pytest)\s")


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_commands_call_the_virtual_environment_by_path(doc: Path) -> None:
    """`.venv/bin/qa …` and `.venv/bin/python …` everywhere, as the README says; never a bare `qa` or `python`."""
    blocks = fenced(doc, "bash", "console", "sh") + [b for b in fenced(doc, "") if b.startswith("$ ")]
    bare = [line for block in blocks for line in commands(block) if BARE.match(line)]
    assert not bare, bare


# ---- docs/api.md: every curl line, run ----------------------------------------------------------------


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    with live_server(build_web_index(tmp_path_factory.mktemp("docs"), with_xss_case=False)) as server:
        yield server


def documented_curls() -> list[tuple[str, str]]:
    """(command, the output documented for it): the `# …` line after it, or the json block that follows."""
    text = API_DOC.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        if match.group(1) != "bash":
            continue
        block = match.group(2)
        for command in commands(block):
            if command.startswith("curl "):
                comment = re.search(r"^# (\{.*\})$", block, re.M)
                after = FENCE.search(text, match.end())
                shown = comment.group(1) if comment else (after.group(2) if after and after.group(1) == "json" else "")
                found.append((command, shown))
    return found


def run_curl(command: str, live: Live, replacements: dict[str, str]) -> Any:
    for old, new in {DOC_HOST + "/": live.url, DOC_HOST: live.url.rstrip("/"), **replacements}.items():
        command = command.replace(old, new)
    done = subprocess.run(shlex.split(command), capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_api_md_curl_lines_answer_as_documented(live: Live) -> None:
    curls = documented_curls()
    assert [c.split()[2] for c, _ in curls] == [
        f"{DOC_HOST}/api/ask",
        f"{DOC_HOST}/api/feedback",
        f"{DOC_HOST}/api/health",
    ], curls
    (ask, ask_shown), (feedback, feedback_shown), (health, health_shown) = curls
    reply = run_curl(ask, live, {})
    documented = json.loads(ask_shown)
    assert set(reply) == set(documented) and reply["answer"] == documented["answer"]
    assert set(reply["citations"][0]) == set(documented["citations"][0])
    assert reply["citations"][0]["quote"] == documented["citations"][0]["quote"]
    # The feedback example uses the id its ask example returned.
    assert run_curl(feedback, live, {documented["id"]: reply["id"]}) == json.loads(feedback_shown)
    assert set(run_curl(health, live, {})) == set(json.loads(health_shown))


# ---- README: the example answer, from the real model ---------------------------------------------------


@pytest.mark.slow
def test_readme_example_answer_is_what_the_assistant_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from qa.build import build_index
    from qa.config import Settings
    from qa.embedding import load_embedder

    [block] = [b for b in fenced(README, "python") if "Assistant.load()" in b]
    claims = re.findall(r"^(reply\.\w+)\s+# '(.*)'$", block, re.M)
    assert claims, "the README example should show the answer it gets"
    monkeypatch.setenv("QA_INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("QA_KNOWLEDGE_DIR", str(REPO / "knowledge"))
    settings = Settings.from_env()
    build_index(settings, load_embedder(settings), progress=False)
    scope: dict[str, Any] = {}
    exec("\n".join(line for line in block.splitlines() if not line.startswith("reply.")), scope)
    for expression, shown in claims:
        assert str(eval(expression, scope)) == shown, expression
