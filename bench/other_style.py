"""Three case files about known practices in another style, with questions only they answer.

``bench/other_style/*.md`` are follow-up reports (new figures, people, places) about three of the
ten practices, written for this benchmark; **their figures and names are invented** and say so in
their ``source`` field, so they never belong in ``knowledge/``. They are added beside the real
case files in a throwaway knowledge base (``build/other_style/``), indexed with the real model, and
the 16 questions of ``bench/other_style/questions.jsonl`` are asked with no history. Nothing was
tuned on them: they are a test split, run only to report.

    python bench/other_style.py [--mode rules|hybrid|reader]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = ROOT / "bench" / "other_style"
WORK = ROOT / "build" / "other_style"


def prepare(knowledge: Path) -> None:
    """knowledge/ plus the three extra files, rebuilt from scratch when the sources changed."""
    sources = sorted((ROOT / "knowledge").glob("*.md")) + sorted(HERE.glob("*.md"))
    sources += [ROOT / "knowledge" / "checks.jsonl"]
    if knowledge.exists():
        shutil.rmtree(knowledge)
    knowledge.mkdir(parents=True)
    for path in sources:
        if path.exists():
            shutil.copy(path, knowledge / path.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sys.path.insert(0, str(ROOT / "src"))
    from qa.config import READER_MODES

    parser.add_argument("--mode", default=None, choices=READER_MODES, help="default: QA_READER")
    args = parser.parse_args()
    from qa.assistant import Assistant
    from qa.build import build_index
    from qa.config import Settings
    from qa.embedding import load_embedder
    from qa.evaluate import is_right

    settings = Settings.from_env(knowledge_dir=WORK / "knowledge", index_dir=WORK / "index", reader_mode=args.mode)
    prepare(settings.knowledge_dir)
    embedder = load_embedder(settings)
    build_index(settings, embedder, progress=False)
    bot = Assistant.load(settings=settings, embedder=embedder)
    items = [json.loads(line) for line in (HERE / "questions.jsonl").read_text(encoding="utf-8").splitlines() if line]
    right = concise = 0
    for item in items:
        reply = bot.ask(item["question"], [])
        ok = is_right(item, reply.answer, [c.case_id for c in reply.citations], reply.grounded)
        short = len(re.sub(r"\[\d+\]", "", reply.answer)) <= 150
        right += ok
        concise += ok and short
        print(f"{'✓' if ok else '✗'} {item['id']} {item['question']} → {reply.answer[:70]}")
    print(
        json.dumps({"mode": bot._state.answerer.facts.reader_mode, "n": len(items), "right": right, "concise": concise})
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
