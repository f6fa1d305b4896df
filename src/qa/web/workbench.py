"""The editors' workbench beyond single files: index version history and rollback, the question report,
and documents (Word, PDF, web pages, text) converted into proposed case files.

Everything goes through the same public functions the command line uses:
``qa.index`` (``build_lock``, ``publish``, ``read_manifest``) for versions, ``qa.qreport``
for the report (as ``qa report``), and ``qa.importing.plan_import`` for documents (as
``qa import``), so /admin can never disagree with the terminal.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from .. import index as store
from ..assistant import Assistant
from ..config import Settings
from ..corpus import readable_cases
from ..errors import CorpusError, QAError
from ..importing import SUFFIXES, Proposal, plan_import
from ..qlog import QuestionLog

IMPORT_PATH = "/api/admin/import"
# A Word file or PDF with a picture or two is far over the 64 KB every other request is allowed; this is
# the one route that takes more (only where the admin routes exist, and the token is checked before reading).
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024
DOCUMENT_KINDS = tuple(s for s in SUFFIXES if s != ".md")  # .md files open in the editor directly
UNSAFE_NAME = re.compile(r"[\x00-\x1f/\\:*?\"<>|]")


class VersionNotKept(QAError):
    """A rollback to a version that is not (or no longer) in ``index/versions/``."""

    http_status = 404

    def __init__(self, version: str) -> None:
        super().__init__(f"index version {version!r} is not kept", f"索引版本 {version} 不存在或已被清理，无法回滚。")


# ---- versions --------------------------------------------------------------------------------


def version_history(index_dir: Path) -> list[dict[str, Any]]:
    """The kept versions, newest first: build time, case count, and which cases changed from the one before."""
    current = store.current_version(index_dir)
    previous = _previous(index_dir)
    manifests = _manifests(index_dir)
    history = []
    for n, (version, manifest) in enumerate(manifests):
        before = manifests[n + 1][1] if n + 1 < len(manifests) else None
        history.append(
            {
                "version": version,
                "built_at": manifest.get("built_at"),
                "cases": len(manifest.get("cases", {})),
                "current": version == current,
                "previous": version == previous,
                "changes": _changes(before, manifest),
            }
        )
    return history


def _manifests(index_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    folder = index_dir / "versions"
    names = sorted((p.name for p in folder.iterdir() if not p.name.startswith(".")), reverse=True)
    found = []
    for name in names:
        try:
            found.append((name, store.read_manifest(folder / name)))
        except QAError:  # a damaged version is simply not offered
            continue
    return found


def _previous(index_dir: Path) -> str | None:
    try:
        return (index_dir / "previous").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _changes(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, list[str]] | None:
    """Case ids added, changed (content hash differs) and removed; None for the oldest kept version."""
    if before is None:
        return None
    old, new = before.get("cases", {}), after.get("cases", {})
    return {
        "added": sorted(set(new) - set(old)),
        "changed": sorted(k for k in set(new) & set(old) if new[k] != old[k]),
        "removed": sorted(set(old) - set(new)),
    }


def activate_version(assistant: Assistant, index_dir: Path, version: str) -> dict[str, Any]:
    """Serve ``version`` again (a rollback to any kept version) and load it at once.

    Only a name in the version list is ever used as a path. The build lock keeps a
    rollback and a rebuild apart (IndexLocked → 409); a version that will not load
    leaves the old one serving (ReloadFailed → 500).
    """
    if version not in {v for v, _ in _manifests(index_dir)}:
        raise VersionNotKept(version)
    with store.build_lock(index_dir):
        store.publish(index_dir, version)
    assistant.reload()
    return {"index_version": assistant.version, "versions": version_history(index_dir)}


def with_index_state(rows: list[dict[str, Any]], index_dir: Path) -> list[dict[str, Any]]:
    """The case list with each case's passages in the served index and whether the file changed since it was built.

    ``indexed``: "same" (the file is what is served), "changed" (edited since the last
    build), "new" (not in the index yet) or "" (an invalid file).
    """
    hashes, chunks = _served(index_dir)
    for row in rows:
        row["chunks"] = chunks.get(row["id"], 0)
        if not row["id"]:
            row["indexed"] = ""
        elif row["id"] not in hashes:
            row["indexed"] = "new"
        else:
            row["indexed"] = "same" if hashes[row["id"]] == row.get("content_hash") else "changed"
    return rows


def _served(index_dir: Path) -> tuple[dict[str, str], Counter[str]]:
    """Case content hashes and passage counts of the published version (empty before the first build)."""
    try:
        folder = store.current_dir(index_dir)
        hashes: dict[str, str] = store.read_manifest(folder).get("cases", {})
        lines = (folder / store.CHUNKS).read_text(encoding="utf-8").splitlines()
    except (QAError, OSError):
        return {}, Counter()
    return hashes, Counter(json.loads(line)["case_id"] for line in lines if line.strip())


# ---- the report ------------------------------------------------------------------------------


def question_report(settings: Settings, limit: int = 10) -> dict[str, Any]:
    """``qa report``'s analysis as data: groups by case, low-confidence and disliked answers, days, rolled back."""
    cases = {c.id: (c.title, Path(c.path).name) for c in readable_cases(settings.knowledge_dir)}
    findings = QuestionLog(settings.db_path).findings(cases, store.current_version(settings.index_dir), limit)
    return findings | {"db_path": str(settings.db_path)}


# ---- documents -------------------------------------------------------------------------------


def import_document(knowledge_dir: Path, name: str, data: bytes, split: bool = False) -> dict[str, Any]:
    """The case files ``qa import`` would make of one uploaded document, with each guessed field and its reason.

    Nothing is written: the editor loads a proposal into the editor, previews it and saves
    it as any other file. Problems (unreadable, clashing id or title…) are an answer, not an error.
    """
    name = _document_name(name)
    if not name.lower().endswith(DOCUMENT_KINDS):
        kinds = "、".join(DOCUMENT_KINDS)
        return {"valid": False, "problems": [f"{name}：只能导入 {kinds} 文件（.md 文件请直接选择，放进编辑框）"]}
    with tempfile.TemporaryDirectory(prefix="qa-import-") as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            proposals = plan_import([path], knowledge_dir, split=split)
        except CorpusError as exc:
            return {"valid": False, "problems": [str(p) for p in exc.problems]}
    return {"valid": True, "problems": [], "proposals": [_proposal(p) for p in proposals]}


def _document_name(name: str) -> str:
    """A bare file name, safe to create in a temporary folder (the browser may send a path or odd characters)."""
    base = UNSAFE_NAME.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip(" .") or "document"
    stem, dot, suffix = base.rpartition(".")
    return f"{stem[:80]}.{suffix[:8]}" if dot and stem else base[:90]


def _proposal(proposal: Proposal) -> dict[str, Any]:
    fields = [
        {"key": key, "value": "、".join(g.value) if isinstance(g.value, list) else g.value, "why": g.why}
        for key, g in proposal.fields.items()
    ]
    return {"name": proposal.name, "origin": proposal.origin, "text": proposal.render(), "fields": fields}
