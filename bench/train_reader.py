"""Train the reader and write ``src/qa/data/reader.npz`` (seeded; the same data gives the same file).

Data: all of CMRC 2018 trial (``../shared/data/cmrc2018_trial.json``, CC BY-SA 4.0), questions
generated from ``knowledge/`` (a number, date, place, organisation or person replaced by a question
phrase), and the hand-written **dev** questions of ``bench/questions.jsonl``. Nothing from the frozen
test splits. About 3 minutes on 2 CPU cores.

    python bench/train_reader.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from qa import reader_fit  # noqa: E402
from qa.reader import DEFAULT_PATH, Reader, save  # noqa: E402

CMRC = ROOT.parent / "shared" / "data" / "cmrc2018_trial.json"


def examples() -> list[reader_fit.Example]:
    cmrc = reader_fit.cmrc_examples(json.loads(CMRC.read_text(encoding="utf-8")))
    domain = reader_fit.domain_examples(ROOT / "knowledge")
    dev = reader_fit.dev_examples(ROOT / "bench" / "questions.jsonl", ROOT / "knowledge")
    negatives = reader_fit.without_answer(cmrc + domain)
    print(
        f"examples: CMRC trial {len(cmrc)}, generated from knowledge/ {len(domain)}, dev questions {len(dev)},"
        f" no-answer (answer sentences taken out) {len(negatives)}"
    )
    return cmrc + domain + dev + negatives


def main() -> int:
    started = time.perf_counter()
    batches = reader_fit.featurise(examples())
    reader = Reader(reader_fit.fit(batches))
    dev = reader_fit.dev_examples(ROOT / "bench" / "questions.jsonl", ROOT / "knowledge")
    margin = reader_fit.null_margin(reader, dev)
    meta = {"trained_on": "cmrc2018_trial + knowledge-generated + bench/questions.jsonl (dev)", "null_margin": margin}
    save(DEFAULT_PATH, reader.weights, meta)
    size = DEFAULT_PATH.stat().st_size
    print(f"{len(batches)} questions with a target; no-answer margin {margin:.3f} (at most 3% of dev answers refused)")
    print(f"wrote {DEFAULT_PATH} ({size / 1e6:.1f} MB) in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
