"""``qa eval --chat``: conversations and everyday off-topic questions, dev and frozen test apart.

Every turn of a session is sent with the history exactly as the widget sends it
(the user's questions and the assistant's answers, in order), and judged like a
dev question. Complete questions (a session's first turn, a topic switch, a
list, an off-topic or absent-detail question) are also asked alone: a question
must not be answered worse because something was asked before it. Everyday
questions are asked alone and right after three openers of their split: after a
question about a practice, "重庆市长是谁？" must not be read as one about it.

The ``test`` split of ``bench/conversations.jsonl`` and ``bench/offtopic.jsonl``
is frozen: nothing is fitted or tuned on it; it is read only to report.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from .assistant import Assistant
from .evaluate import is_right as judge

# Turns that make sense without the conversation, so they can be asked alone too.
COMPLETE = frozenset({"first", "switch", "list", "offtopic", "absent"})
FOLLOW_UPS = frozenset({"follow_up", "pronoun", "na_x", "ordinal"})


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def ask(bot: Assistant, question: str, history: list[dict[str, str]]) -> tuple[str, list[str], bool]:
    reply = bot.ask(question, history)
    return reply.answer, [c.case_id for c in reply.citations], reply.grounded


def score_sessions(bot: Assistant, sessions: list[dict[str, Any]]) -> dict[str, Any]:
    """Per kind: right in conversation; for complete turns also right when asked alone."""
    chat: dict[str, list[bool]] = defaultdict(list)
    alone: dict[str, list[bool]] = defaultdict(list)
    resolved: list[bool] = []  # a follow-up read as about the right case (its answer may still miss)
    misses: list[dict[str, Any]] = []
    for session in sessions:
        history: list[dict[str, str]] = []
        for turn in session["turns"]:
            answer, cited, grounded = ask(bot, turn["question"], history)
            right = judge(turn, answer, cited, grounded)
            chat[turn["kind"]].append(right)
            if turn["kind"] in FOLLOW_UPS and turn["expect_cases"]:
                resolved.append(set(turn["expect_cases"]) <= set(cited))
            if turn["kind"] in COMPLETE:
                alone[turn["kind"]].append(judge(turn, *ask(bot, turn["question"], [])))
            if not right:
                misses.append(
                    {"id": session["id"], "kind": turn["kind"], "question": turn["question"], "answer": answer}
                )
            history += [{"role": "user", "content": turn["question"]}, {"role": "assistant", "content": answer}]
    rates = {"chat": _rates(chat), "alone": _rates(alone), "misses": misses}
    return rates | {"resolved": (sum(resolved), len(resolved))}


def after_opener(bot: Assistant, opener: str) -> list[dict[str, str]]:
    """The history of a chat that asked ``opener`` and got the assistant's answer."""
    return [{"role": "user", "content": opener}, {"role": "assistant", "content": bot.ask(opener).answer}]


def score_offtopic(
    bot: Assistant, items: list[dict[str, Any]], sessions: list[dict[str, Any]], per_item: int = 3
) -> dict[str, Any]:
    """Everyday questions, asked alone and right after ``per_item`` openers of ``sessions``.

    After a question about a practice, a short everyday question ("重庆市长是谁？", "Thanks,
    bye!") must not be read as a follow-up about that practice; asked alone it is never at risk.
    """
    refused = {item["id"]: not bot.ask(item["question"], []).grounded for item in items}
    openers = [s["turns"][0]["question"] for s in sessions]
    rng = random.Random(5)
    after: list[bool] = []
    answered_after = []
    for item in items:
        for opener in rng.sample(openers, min(per_item, len(openers))):
            history = after_opener(bot, opener)
            after.append(not bot.ask(item["question"], history).grounded)
            if not after[-1]:
                answered_after.append(f"{opener} → {item['question']}")
    return {
        "n": len(items),
        "refused": sum(refused.values()),
        "answered": [item["question"] for item in items if not refused[item["id"]]],
        "after": (sum(after), len(after)),
        "answered_after": answered_after,
    }


def score_switches(bot: Assistant, sessions: list[dict[str, Any]], per_turn: int = 6) -> dict[str, int]:
    """Every complete turn asked right after the first question of ``per_turn`` other sessions.

    Two-question conversations the data set does not hold, made from it with a fixed seed:
    the second question must fare exactly as it does alone (a hijack turns right into wrong).
    """
    openers = [s["turns"][0]["question"] for s in sessions]
    rng = random.Random(5)
    counts = {"pairs": 0, "right_alone": 0, "right_after": 0, "hijacked": 0}
    for turn in (t for s in sessions for t in s["turns"] if t["kind"] in COMPLETE):
        alone = judge(turn, *ask(bot, turn["question"], []))
        for opener in rng.sample(openers, min(per_turn, len(openers))):
            history = after_opener(bot, opener)
            after = judge(turn, *ask(bot, turn["question"], history))
            counts["pairs"] += 1
            counts["right_alone"] += alone
            counts["right_after"] += after
            counts["hijacked"] += alone and not after
    return counts


def run_chat_eval(bot: Assistant, bench: Path, splits: tuple[str, ...] = ("dev", "test")) -> dict[str, Any]:
    """Score each split apart; ``splits=("dev",)`` while working, so the frozen test is read only to report."""
    sessions = load_jsonl(bench / "conversations.jsonl")
    offtopic = load_jsonl(bench / "offtopic.jsonl")
    results = {}
    for split in splits:
        mine = [s for s in sessions if s["split"] == split]
        results[split] = {
            "sessions": score_sessions(bot, mine),
            "switches": score_switches(bot, mine),
            "offtopic": score_offtopic(bot, [o for o in offtopic if o["split"] == split], mine),
        }
    return results


def _rates(groups: dict[str, list[bool]]) -> dict[str, tuple[int, int]]:
    rates = {kind: (sum(v), len(v)) for kind, v in sorted(groups.items())}
    follow = [x for kind in FOLLOW_UPS for x in groups.get(kind, [])]
    complete = [x for kind in COMPLETE for x in groups.get(kind, [])]
    everything = [x for v in groups.values() for x in v]
    rates["complete"] = (sum(complete), len(complete))
    if follow:
        rates["follow-ups"] = (sum(follow), len(follow))
    rates["all"] = (sum(everything), len(everything))
    return rates


def format_chat(results: dict[str, Any]) -> str:
    lines = ["conversations (bench/conversations.jsonl) and everyday off-topic questions (bench/offtopic.jsonl)"]
    lines.append("split  kind          in conversation   asked alone")
    for split, result in results.items():
        label = "dev (tuned on)" if split == "dev" else "test (frozen, never tuned on)"
        lines.append(f"-- {label}")
        chat, alone = result["sessions"]["chat"], result["sessions"]["alone"]
        for kind, (right, n) in chat.items():
            single = alone.get(kind)
            solo = f"{single[0]}/{single[1]}" if single else "—"
            lines.append(f"{split:<6} {kind:<12} {right:>4}/{n:<4} {right / n:>5.0%}    {solo}")
        right, n = result["sessions"]["resolved"]
        lines.append(f"{split:<6} follow-ups resolved to the right case: {right}/{n}")
        pairs = result["switches"]
        lines.append(
            f"{split:<6} two-question switches: right after another opener {pairs['right_after']}/{pairs['pairs']},"
            f" alone {pairs['right_alone']}/{pairs['pairs']}, hijacked {pairs['hijacked']}"
        )
        off = result["offtopic"]
        lines.append(f"{split:<6} off-topic refused {off['refused']}/{off['n']} ({off['refused'] / off['n']:.0%})")
        right, n = off["after"]
        lines.append(
            f"{split:<6} off-topic refused right after a question about a practice {right}/{n} ({right / n:.0%})"
        )
    if "dev" not in results:  # the frozen test split's misses are never printed: nothing is fixed from them
        return "\n".join(lines)
    dev = results["dev"]
    lines.append("dev misses (conversation):")
    lines += [f"  {m['id']} [{m['kind']}] {m['question']} → {m['answer'][:70]}" for m in dev["sessions"]["misses"]]
    lines.append("dev off-topic answered:")
    lines += [f"  {q}" for q in dev["offtopic"]["answered"]]
    lines.append("dev off-topic answered right after a question about a practice:")
    lines += [f"  {q}" for q in dev["offtopic"]["answered_after"]]
    return "\n".join(lines)
