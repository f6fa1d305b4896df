"""A build killed half-way, then retried: the retry embeds only what the killed build never embedded.

    python bench/resume_bench.py --cases 848 --kill-after 120

Writes a synthetic corpus with only the two required fields (id, title), runs
`qa index` in a child process and SIGKILLs it after --kill-after seconds, then runs
`qa index` again and prints both reports. The retry's "取自向量缓存" count is what the
killed build had finished; its "嵌入" count is the rest, so the two add up to the total.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
QA = Path(sys.executable).with_name("qa")


def generic_corpus(folder: Path, count: int) -> Path:
    """The synthetic cases with only id and title in their front matter (no unit, region, level, rank, source)."""
    from synthetic import write_corpus

    write_corpus(folder, count)
    for path in folder.glob("*.md"):
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"^(unit|region|level|rank|source): .*\n", "", text, flags=re.M)
        path.write_text(text, encoding="utf-8")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=848)
    parser.add_argument("--kill-after", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "QA_KNOWLEDGE_DIR": str(generic_corpus(Path(tmp) / "kb", args.cases))}
        env["QA_INDEX_DIR"] = str(Path(tmp) / "index")
        started = time.perf_counter()
        child = subprocess.Popen([str(QA), "index"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            child.wait(args.kill_after)
            print(f"first build finished before the kill ({time.perf_counter() - started:.0f} s)")
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
            print(f"first build killed after {args.kill_after:.0f} s")
        shards = list((Path(tmp) / "index" / "embeddings").glob("*/*.npz"))
        print(f"vector cache after the first build: {len(shards)} shard file(s)")
        retry = subprocess.run([str(QA), "index"], env=env, capture_output=True, text=True, check=False)
        print(f"retry (exit {retry.returncode}):")
        print("\n".join(line for line in retry.stdout.splitlines() if "新增" not in line))
        print(retry.stderr.strip().splitlines()[-1] if retry.returncode and retry.stderr.strip() else "")


if __name__ == "__main__":
    main()
