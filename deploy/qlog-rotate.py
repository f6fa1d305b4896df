#!/usr/bin/env python3
"""Rotate qa's question logs (SQLite): archive each log once a month, keep only recent rows live.

    qlog-rotate.py [--keep-days 180] /var/lib/qa/questions-*.sqlite3

For each log: a consistent copy of the whole file goes to ``archive/<name>-<YYYY-MM>.sqlite3``
beside it (once per month; VACUUM INTO, safe while the replica writes), then rows older than
--keep-days are deleted from the live file. A SQLite file must not be renamed or truncated under
a running replica the way logrotate treats text logs, hence this script (qa-qlog-rotate.timer
runs it). Standard library only; any python3 will do.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

BUSY_TIMEOUT = 30.0  # seconds to wait for a replica's write transaction


def rotate(db: Path, keep_days: int, now: datetime) -> tuple[Path, int]:
    """Archive ``db`` for this month (unless done already) and prune old rows; (archive, rows deleted)."""
    archive = db.parent / "archive" / f"{db.stem}-{now:%Y-%m}.sqlite3"
    archive.parent.mkdir(exist_ok=True)
    cutoff = (now - timedelta(days=keep_days)).isoformat(timespec="milliseconds")
    conn = sqlite3.connect(db, timeout=BUSY_TIMEOUT)
    try:
        if not archive.exists():
            conn.execute("VACUUM INTO ?", (str(archive),))
        with conn:
            deleted = conn.execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount
    finally:
        conn.close()
    return archive, deleted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="*", type=Path)
    parser.add_argument("--keep-days", type=int, default=180, help="rows kept in the live file (default 180)")
    args = parser.parse_args(argv)
    now = datetime.now(UTC)
    for db in args.logs:
        if db.is_file():
            archive, deleted = rotate(db, args.keep_days, now)
            print(f"{db}: archived to {archive}, {deleted} rows older than {args.keep_days} days removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
