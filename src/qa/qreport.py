"""What to fix next, read from the question log: the analysis behind ``qa report`` and /admin's report page.

Problems are grouped by the case the answer was about, each group with the action
an editor can take (add a passage to case X and a check; treat it as off-topic;
restore a deleted case). Besides refusals it lists *low-confidence* answers: the
reply does not carry a calibrated probability, so confidence here is how well
the two searches agree on the cited passage (:func:`reply_confidence`): 1.0 when
it ranks first in both the vector and the keyword search (and for answers built
from the front matter, lists and figures), lower the further down either search
put it.

Questions answered by an index version that was later rolled back are kept out
of the groups and counted apart: their problem may be that version, not the
knowledge base. Version ids are build timestamps, so "rolled back" is read from
the log itself (:func:`rolled_back`), with no record kept anywhere else.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from .models import Reply

LOW_CONFIDENCE = 0.95  # below this, the cited passage was not near the top of both searches
RRF_TOP = 2 / 60  # the fused score of a passage ranked first by both searches (fusion.RRF_K = 60)
CHART_DAYS = 30
# Escape sequences (CSI "ESC [ … letter", OSC "ESC ] … BEL/ST", and two-character ones) go whole, so no "[2J" is left.
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]?")
# C0 and C1 controls, DEL, and the invisible bidi/format characters that can disguise what a terminal shows.
CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")
OFF_TOPIC_ACTION = "多半与主题无关，可不处理；确属本主题的，需要新增案例"
CASE_ACTION = "原文有依据时，在该案例补充回答这些问题的段落，并在 checks.jsonl 为它加一个检查问题"
GONE_ACTION = "问题若仍重要，恢复或新增相应案例"
DOUBT_ACTION = "核对答案：答对了，把问题加进 checks.jsonl；答错了，在该案例补充段落"


def reply_confidence(reply: Reply) -> float:
    """0–1: how well the searches agree on the best cited passage; 0 for a refusal (see the module doc)."""
    if not reply.grounded or not reply.citations:
        return 0.0
    return round(min(1.0, max(c.score for c in reply.citations) / RRF_TOP), 3)


def storable(text: str | None, one_line: bool = False) -> str | None:
    """``text`` fit to store: escape sequences and control characters gone, valid UTF-8.

    A question is kept on one line (``one_line``), so a stored newline cannot forge a line
    of the report; answers keep their newlines and tabs.
    """
    if text is None:
        return None
    text = CONTROLS.sub(" ", ESCAPES.sub("", text))
    if one_line:
        text = " ".join(text.split())
    return text.encode("utf-8", "replace").decode("utf-8")  # a lone surrogate (legal in JSON) cannot be stored


def shown(text: str | None, width: int = 0) -> str:
    """``text`` safe to print to a terminal: any control character left (rows stored before they were stripped)
    is written out as ``\\x1b``, and whitespace runs become one space."""
    text = " ".join((text or "").split())
    text = re.sub(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]", _escape, text)
    return text if not width or len(text) <= width else text[: width - 1] + "…"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# ---- reading the log ------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    asked_at: str
    question: str
    answer: str
    case_id: str  # the first case the answer named, "" for none
    grounded: bool
    feedback: int | None
    index_version: str | None
    confidence: float | None


def read_rows(conn: sqlite3.Connection) -> list[Row]:
    """Every row, oldest first; columns a log from an older release lacks read as NULL."""
    have = {row[1] for row in conn.execute("PRAGMA table_info(questions)")}
    optional = [c if c in have else f"NULL AS {c}" for c in ("index_version", "confidence")]
    sql = (
        f"SELECT asked_at, question, answer, case_ids, grounded, feedback, {', '.join(optional)}"
        " FROM questions ORDER BY asked_at, rowid"
    )
    return [_row(*values) for values in conn.execute(sql)]


def _row(
    asked_at: str,
    question: str,
    answer: str | None,
    case_ids: str | None,
    grounded: int | None,
    feedback: int | None,
    version: str | None,
    confidence: float | None,
) -> Row:
    try:
        ids = [str(i) for i in json.loads(case_ids or "[]")]
    except ValueError:
        ids = []
    return Row(asked_at, question, answer or "", ids[0] if ids else "", bool(grounded), feedback, version, confidence)


def rolled_back(rows: Sequence[Row], current: str | None) -> set[str]:
    """Versions that were served and then abandoned for an older one.

    A version is rolled back when a later question was answered by an older version,
    or when it is newer than the version published now. Version ids sort by build time.
    Replicas writing one shared log could disagree for a moment at a swap and make a new
    version look rolled back; the deployment gives each replica its own log (QA_DB).
    """
    gone: set[str] = set()
    oldest_later: str | None = None
    for row in reversed(rows):
        version = row.index_version
        if not version:
            continue
        if (oldest_later is not None and oldest_later < version) or (current and version > current):
            gone.add(version)
        oldest_later = version if oldest_later is None else min(oldest_later, version)
    return gone


# ---- the analysis ---------------------------------------------------------------------------


@dataclass
class Asked:
    """One question text in a group: how often, and the index version that last answered it."""

    question: str
    count: int
    index_version: str | None


@dataclass
class Group:
    """The unanswered questions about one case (or about none), and what to do about them."""

    case_id: str
    title: str
    file: str
    kind: str  # "case" | "none" (named no case) | "gone" (the case is no longer in knowledge/)
    total: int
    action: str
    questions: list[Asked] = field(default_factory=list)


@dataclass
class Doubt:
    """An answered question with low confidence: possibly a confident wrong answer nobody disliked."""

    asked_at: str
    question: str
    answer: str
    case_id: str
    title: str
    confidence: float | None
    index_version: str | None
    action: str = DOUBT_ACTION


@dataclass
class Day:
    day: str
    total: int = 0
    unanswered: int = 0
    low_confidence: int = 0


@dataclass
class Findings:
    current_version: str | None
    groups: list[Group]
    doubts: list[Doubt]
    disliked: list[Doubt]  # newest first (the text report has its own section for these)
    days: list[Day]
    rolled_back: dict[str, int]  # version → questions it answered, left out of the groups and doubts

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def analyse(
    rows: Sequence[Row], cases: Mapping[str, tuple[str, str]], current: str | None, limit: int = 10
) -> Findings:
    """``cases``: case id → (title, file name) of what is in knowledge/ now; ``current``: the published version."""
    gone = rolled_back(rows, current)
    kept = [r for r in rows if r.index_version not in gone]
    skipped = Counter(r.index_version or "" for r in rows if r.index_version in gone)
    return Findings(
        current_version=current,
        groups=_groups([r for r in kept if not r.grounded], cases, limit),
        doubts=_doubts(kept, cases, limit),
        disliked=[_doubt(r, cases) for r in reversed(kept) if r.feedback == -1][:limit],
        days=_days(rows),
        rolled_back=dict(sorted(skipped.items())),
    )


def _groups(unanswered: Sequence[Row], cases: Mapping[str, tuple[str, str]], limit: int) -> list[Group]:
    by_case: dict[str, list[Row]] = {}
    for row in unanswered:
        by_case.setdefault(row.case_id, []).append(row)
    ordered = sorted(by_case.items(), key=lambda item: (-len(item[1]), item[0]))[:limit]
    return [_group(case_id, found, cases) for case_id, found in ordered]


def _group(case_id: str, found: list[Row], cases: Mapping[str, tuple[str, str]]) -> Group:
    counts = Counter(r.question for r in found)
    latest = {r.question: r.index_version for r in found}  # rows are oldest first: the last one wins
    asked = [Asked(q, n, latest[q]) for q, n in counts.most_common(5)]
    if not case_id:
        return Group("", "", "", "none", len(found), OFF_TOPIC_ACTION, asked)
    if case_id not in cases:
        return Group(case_id, "", "", "gone", len(found), GONE_ACTION, asked)
    title, name = cases[case_id]
    return Group(case_id, title, name, "case", len(found), CASE_ACTION, asked)


def _doubts(rows: Sequence[Row], cases: Mapping[str, tuple[str, str]], limit: int) -> list[Doubt]:
    """The least confident answers first (rows logged before confidence was recorded are not judged)."""
    doubtful = [r for r in rows if r.grounded and r.confidence is not None and r.confidence < LOW_CONFIDENCE]
    doubtful.sort(key=lambda r: (r.confidence or 0.0, r.asked_at))
    unique: dict[str, Row] = {}
    for row in doubtful:
        unique.setdefault(row.question, row)
    return [_doubt(r, cases) for r in list(unique.values())[:limit]]


def _doubt(row: Row, cases: Mapping[str, tuple[str, str]]) -> Doubt:
    title = cases.get(row.case_id, ("", ""))[0]
    return Doubt(row.asked_at, row.question, row.answer, row.case_id, title, row.confidence, row.index_version)


def _days(rows: Sequence[Row]) -> list[Day]:
    """Questions per local day, the last :data:`CHART_DAYS` days that had any, oldest first (the chart's data)."""
    days: dict[str, Day] = {}
    for row in rows:
        day = days.setdefault(_local_day(row.asked_at), Day(_local_day(row.asked_at)))
        day.total += 1
        day.unanswered += not row.grounded
        day.low_confidence += bool(row.grounded and row.confidence is not None and row.confidence < LOW_CONFIDENCE)
    return [days[d] for d in sorted(days)[-CHART_DAYS:]]


def _local_day(asked_at: str) -> str:
    try:
        return datetime.fromisoformat(asked_at).astimezone().date().isoformat()
    except ValueError:
        return asked_at[:10]


# ---- as text (qa report) --------------------------------------------------------------------


def format_findings(findings: Findings) -> list[str]:
    """The report's first sections: what to fix, grouped by case; low-confidence answers; rolled-back versions."""
    sections = [_format_groups(findings.groups), _format_doubts(findings.doubts)]
    if findings.rolled_back:
        listed = "、".join(f"{v}（{n} 个问题）" for v, n in findings.rolled_back.items())
        sections.append(f"已回滚的索引版本回答的问题未计入以上两项：{listed}")
    return sections


def _format_groups(groups: Sequence[Group]) -> str:
    lines = []
    for g in groups:
        if g.kind == "none":
            head = f"  不涉及任何案例：{g.total} 次 → {g.action}"
        elif g.kind == "gone":
            head = f"  案例 {shown(g.case_id)}（已不在知识库中）：{g.total} 次 → {g.action}"
        else:
            head = f"  《{shown(g.title)}》（{shown(g.file)}）：{g.total} 次 → {g.action}"
        lines.append(head)
        lines += [
            f"      {a.count:>4} 次  {shown(a.question)}  〔索引 {a.index_version or '未记录'}〕" for a in g.questions
        ]
    return "\n".join(["下一步要处理的（未答出的问题，按涉及的案例分组）：", *(lines or ["  （无）"])])


def _format_doubts(doubts: Sequence[Doubt]) -> str:
    lines = []
    for d in doubts:
        where = f"《{shown(d.title)}》" if d.title else (shown(d.case_id) or "—")
        lines.append(
            f"  置信度 {d.confidence or 0:.2f}  {where}  问：{shown(d.question)}  〔索引 {d.index_version or '未记录'}〕\n"
            f"{'':19}答：{shown(d.answer, 80)}"
        )
    head = f"置信度低的回答（置信度 < {LOW_CONFIDENCE}，最低的在前；{DOUBT_ACTION}）："
    return "\n".join([head, *(lines or ["  （无）"])])
