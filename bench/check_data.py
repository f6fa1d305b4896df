"""Validate bench/conversations.jsonl and bench/offtopic.jsonl against knowledge/*.md.

Checks: every line parses; ids are unique; splits and kinds are known; every expected case
id exists; every expect_answer substring occurs verbatim in some knowledge/*.md file (front
matter included), and in the file of an expected case when one is given; grounded-false
turns expect nothing; no question repeats one in bench/questions.jsonl. Prints counts per
split, kind and topic, and the off-topic questions that name a case (intended hard negatives).

    python bench/check_data.py      # exit status 1 on any error
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
KNOWLEDGE = HERE.parent / "knowledge"
KINDS = {"first", "switch", "follow_up", "pronoun", "na_x", "ordinal", "list", "offtopic", "absent"}
SPLITS = {"dev", "test"}
CASE_WORDS = ["警快办", "车载便民法庭", "渝事荣易解", "西部金融法律服务中心", "潮汐车道", "莎姐", "一书一令"]
CASE_WORDS += ["复调对接", "贵和", "垫小二", "十大改革", "最佳实践"]


def load(path: Path) -> list[dict]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                sys.exit(f"{path.name}:{n}: {exc}")
    return rows


def norm(text: str) -> str:
    return re.sub(r"[\s\W_]+", "", text).lower()


def main() -> int:
    texts = {}
    for path in sorted(KNOWLEDGE.glob("*.md")):
        if path.name == "README.md":
            continue
        raw = path.read_text(encoding="utf-8")
        case_id = re.search(r"^id:\s*(\S+)", raw, re.M)
        assert case_id, path
        texts[case_id.group(1)] = raw
    everything = "\n".join(texts.values())
    dev_questions = {norm(r["question"]) for r in load(HERE / "questions.jsonl")}
    errors: list[str] = []

    sessions = load(HERE / "conversations.jsonl")
    ids = Counter(s["id"] for s in sessions)
    errors += [f"duplicate session id {i}" for i, n in ids.items() if n > 1]
    kinds: Counter[tuple[str, str]] = Counter()
    sessions_with: Counter[tuple[str, str]] = Counter()
    for s in sessions:
        where = s["id"]
        if s.get("split") not in SPLITS:
            errors.append(f"{where}: bad split {s.get('split')!r}")
        if not 2 <= len(s["turns"]) <= 4:
            errors.append(f"{where}: {len(s['turns'])} turns")
        for i, t in enumerate(s["turns"]):
            at = f"{where} turn {i + 1} ({t['question']})"
            if set(t) != {"question", "kind", "grounded", "expect_cases", "expect_answer"}:
                errors.append(f"{at}: fields {sorted(t)}")
            if t["kind"] not in KINDS:
                errors.append(f"{at}: bad kind {t['kind']!r}")
            if (t["kind"] == "first") != (i == 0):
                errors.append(f"{at}: 'first' must be exactly the first turn")
            if t["kind"] in {"offtopic", "absent"} and t["grounded"]:
                errors.append(f"{at}: {t['kind']} must be grounded false")
            if not t["grounded"] and (t["expect_cases"] or t["expect_answer"]):
                errors.append(f"{at}: grounded false but expects something")
            if t["grounded"] and not t["expect_answer"]:
                errors.append(f"{at}: grounded but no expect_answer")
            if t["grounded"] and not t["expect_cases"] and t["kind"] not in {"list", "first"}:
                errors.append(f"{at}: grounded but no expect_cases")
            for case in t["expect_cases"]:
                if case not in texts:
                    errors.append(f"{at}: unknown case {case!r}")
            for sub in t["expect_answer"]:
                if sub not in everything:
                    errors.append(f"{at}: {sub!r} not in any knowledge file")
                elif t["expect_cases"] and not any(sub in texts.get(c, "") for c in t["expect_cases"]):
                    errors.append(f"{at}: {sub!r} not in the expected case's file")
            if norm(t["question"]) in dev_questions:
                errors.append(f"{at}: repeats a question of bench/questions.jsonl")
            kinds[(s["split"], t["kind"])] += 1
        for kind in {t["kind"] for t in s["turns"]}:
            sessions_with[(s["split"], kind)] += 1

    off = load(HERE / "offtopic.jsonl")
    oids = Counter(r["id"] for r in off)
    errors += [f"duplicate offtopic id {i}" for i, n in oids.items() if n > 1]
    seen: Counter[str] = Counter(norm(r["question"]) for r in off)
    errors += [f"offtopic: question repeated: {q}" for q, n in seen.items() if n > 1]
    topics: Counter[tuple[str, str]] = Counter()
    langs: Counter[tuple[str, str]] = Counter()
    named = []
    for r in off:
        if r.get("split") not in SPLITS:
            errors.append(f"{r['id']}: bad split")
        if norm(r["question"]) in dev_questions:
            errors.append(f"{r['id']}: repeats a question of bench/questions.jsonl")
        topics[(r["split"], r["topic"])] += 1
        langs[(r["split"], r.get("lang", "?"))] += 1
        if any(w in r["question"] for w in CASE_WORDS):
            named.append(f"{r['id']} {r['question']}")

    def table(title: str, counts: Counter[tuple[str, str]]) -> None:
        keys = sorted({k for _, k in counts})
        print(f"\n{title:<18}{'dev':>6}{'test':>6}{'all':>6}")
        for k in keys:
            d, t = counts[("dev", k)], counts[("test", k)]
            print(f"{k:<18}{d:>6}{t:>6}{d + t:>6}")
        d = sum(v for (s, _), v in counts.items() if s == "dev")
        t = sum(v for (s, _), v in counts.items() if s == "test")
        print(f"{'total':<18}{d:>6}{t:>6}{d + t:>6}")

    split_sessions = Counter(s["split"] for s in sessions)
    print(f"conversations.jsonl: {len(sessions)} sessions (dev {split_sessions['dev']}, test {split_sessions['test']})")
    table("turns by kind", kinds)
    table("sessions with kind", sessions_with)
    split_off = Counter(r["split"] for r in off)
    print(f"\nofftopic.jsonl: {len(off)} questions (dev {split_off['dev']}, test {split_off['test']})")
    table("by topic", topics)
    table("by lang", langs)
    print("\noff-topic questions naming a case word (intended hard negatives):")
    for line in named:
        print("  " + line)
    if errors:
        print(f"\n{len(errors)} error(s):")
        for e in errors:
            print("  " + e)
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
