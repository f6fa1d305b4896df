"""Ask every dev and conversation question against one index; print one JSON line per reply.

Run as a subprocess by ``test_determinism.py`` under several ``PYTHONHASHSEED``
values: the outputs must be byte-identical. ``--batched`` first encodes every
resolved query in mixed batches of 16 (as the server's micro-batching would),
so the replies can be compared with those of queries encoded one at a time.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from qa.assistant import Assistant  # noqa: E402
from qa.config import Settings  # noqa: E402

Session = list[str]


def sessions() -> list[Session]:
    """Dev questions (with their own history) and every conversation of ``bench/``."""
    out: list[Session] = []
    for line in (REPO / "bench" / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        out.append([*item.get("history", []), item["question"]])
    for line in (REPO / "bench" / "conversations.jsonl").read_text(encoding="utf-8").splitlines():
        out.append([turn["question"] for turn in json.loads(line)["turns"]])
    return out


def replay(bot: Assistant, session: Session) -> list[dict[str, object]]:
    history: list[dict[str, str]] = []
    rows: list[dict[str, object]] = []
    for question in session:
        reply = bot.ask(question, history)
        chunks = [c.chunk_id for c in reply.citations]
        rows.append(
            {"q": question, "query": reply.query, "a": reply.answer, "chunks": chunks, "grounded": reply.grounded}
        )
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": reply.answer}]
    return rows


def warm_in_batches(bot: Assistant, queries: list[str]) -> None:
    """Encode the queries the replies will search, 16 shuffled queries per model call."""
    mixed = sorted(set(queries))
    random.Random(16).shuffle(mixed)
    for start in range(0, len(mixed), 16):
        bot._state.retriever.warm(mixed[start : start + 16])  # reached into on purpose: the batching path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--batched", action="store_true")
    args = parser.parse_args()
    settings = Settings.from_env(index_dir=args.index)
    bot = Assistant.load(settings=settings)
    rows = [row for session in sessions() for row in replay(bot, session)]
    if args.batched:  # a fresh process state whose query vectors all come from mixed batches
        bot = Assistant.load(settings=settings)
        warm_in_batches(bot, [str(row["query"]) for row in rows])
        rows = [row for session in sessions() for row in replay(bot, session)]
    for row in rows:
        print(json.dumps(row, ensure_ascii=False, sort_keys=True))


if __name__ == "__main__":
    main()
