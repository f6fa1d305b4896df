"""Load benchmark for ``POST /api/ask`` over loopback.

Starts ``qa serve`` itself (a free port, the real index, ``QA_RATE_LIMIT=0``, a
throw-away question log) and measures cold start, then runs each workload at
1, 4, 16 and 64 concurrent clients and prints a markdown table: throughput,
p50/p95/p99 latency, errors, and the server's peak RSS. Or point it at a running
server (``--url``; pass ``--pid`` too for RSS), e.g. replicas behind nginx.

    python bench/load.py --quick                   # ~3 s per level: a smoke test of the tool
    python bench/load.py                           # the full table (20 s per level)
    python bench/load.py --soak 300                # plus 5 minutes of the mixed load at 16 clients
    python bench/load.py --threads 2 --quick       # the same with QA_THREADS=2
    python bench/load.py --url http://127.0.0.1:8080/ --spread    # through nginx (docs/deploy.md)

Workloads: ``repeated`` (popular questions only: the reply cache), ``novel``
(every question new: a model call each), ``mixed`` (the realistic mix: mostly
popular questions, some novel ones, some follow-ups with history). Every loop is
bounded by time and by request count, so a run always ends by itself.

The client is a small asyncio HTTP/1.1 client with one keep-alive connection per
simulated user: httpx would spend more CPU than the server on the 2 cores we share.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
LEVELS = (1, 4, 16, 64)
WORKLOADS = ("repeated", "novel", "mixed")
MIX = {"repeated": 0.7, "novel": 0.2, "follow-up": 0.1}  # share of each kind in the mixed workload
TIMEOUT = 30.0  # seconds one request may take before it counts as an error
TARGETS = "≥ 40 novel q/s at 16 clients with p95 < 500 ms; ≥ 500 repeated q/s; 0 errors; RSS < 1.5 GB"

POPULAR = [
    "“警快办”注册人数有多少？",
    "这次评出的十大最佳实践范例都有哪些？",
    "5G车载便民法庭能把哪些服务送到群众家门口？",
    "石柱和巴南谁的调解成功率更高？",
    "荣昌便民纠纷解决中心一共有多少间调解室？",
    "莎姐是做什么的？",
    "潮汐车道解决了什么问题？",
    "垫小二是什么？",
    "一书一令是什么意思？",
    "西部金融法律服务中心有什么作用？",
    "贵和工作法是怎么来的？",
    "行政复议和调解怎么对接？",
]
FOLLOW_UPS = ["它是哪个单位报送的？", "具体是怎么做的？", "取得了哪些成效？", "那它的数据呢？", "有什么亮点？"]
NAMES = ["警快办", "车载便民法庭", "荣昌便民纠纷解决中心", "西部金融法律服务中心", "潮汐车道", "莎姐", "一书一令"]
NAMES += ["复调对接", "贵和工作法", "垫小二", "渝事荣易解", "十大改革最佳实践"]
TOPICS = ["注册人数", "服务范围", "主要做法", "取得的成效", "工作机制", "覆盖范围", "群众满意度", "创新之处"]
TOPICS += ["调解成功率", "人员构成", "办理流程", "经验做法", "社会反响", "推广情况", "数据指标", "起源"]
FRAMES = ["{name}的{topic}是什么？", "{name}在{topic}方面有什么特点？", "请介绍一下{name}的{topic}。"]
FRAMES += ["{year}年{name}的{topic}怎么样？", "{name}{topic}有哪些？", "想了解{name}的{topic}"]
PREFIXES = ["", "请问", "你好，", "麻烦问一下，", "我想知道"]


# ---- questions ----------------------------------------------------------------------------------


class Questions:
    """Request bodies for each workload; novel questions never repeat within a run."""

    def __init__(self, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        self.answers: dict[str, str] = {}  # popular question -> its answer, for follow-up history
        self._novel = self._novel_questions()

    def _novel_questions(self) -> Iterator[str]:
        combos = list(itertools.product(PREFIXES, FRAMES, NAMES, TOPICS, range(2015, 2025)))
        self.rng.shuffle(combos)
        for prefix, frame, name, topic, year in combos:  # ~58,000: more than any run asks
            yield prefix + frame.format(name=name, topic=topic, year=year)
        for n in itertools.count():  # never reached in practice; keeps the promise of "never repeats"
            yield f"第{n}个问题：警快办的注册人数是多少？"

    def popular(self) -> str:
        # Zipf-like: the first questions are asked far more often than the last.
        return self.rng.choices(POPULAR, weights=[1 / (i + 1) for i in range(len(POPULAR))])[0]

    def body(self, workload: str) -> bytes:
        kind = workload
        if workload == "mixed":
            kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        if kind == "repeated":
            payload: dict[str, Any] = {"question": self.popular()}
        elif kind == "novel":
            payload = {"question": next(self._novel)}
        else:
            first = self.popular()
            history = [
                {"role": "user", "content": first},
                {"role": "assistant", "content": self.answers.get(first, "")},
            ]
            payload = {"question": self.rng.choice(FOLLOW_UPS), "history": history}
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")


# ---- a minimal keep-alive HTTP/1.1 client -------------------------------------------------------


class Connection:
    """One keep-alive connection; reopened after any error."""

    def __init__(self, host: str, port: int, source: str | None = None) -> None:
        self.host, self.port, self.source = host, port, source
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            local = (self.source, 0) if self.source else None
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port, local_addr=local)
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode("ascii") + body)
        await self.writer.drain()
        return await self._response()

    async def _response(self) -> tuple[int, bytes]:
        assert self.reader is not None
        status = int((await self.reader.readline()).split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._chunked()
        else:
            body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return status, body

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while size := int((await self.reader.readline()).strip() or b"0", 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return b"".join(parts)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


# ---- one level --------------------------------------------------------------------------------


@dataclass
class Level:
    workload: str
    clients: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    peak_rss_mb: float | None = None

    def fail(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if len(self.latencies) < 2:
            return self.latencies[0] if self.latencies else float("nan")
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[int(p) - 1]


@dataclass
class Target:
    host: str
    port: int
    path: str  # of /api/ask, with any prefix of --url
    pid: int | None
    spread: bool = False  # give each simulated user its own loopback address (for a proxy that hashes on it)

    def connection(self, user: int) -> Connection:
        return Connection(self.host, self.port, f"127.0.{1 + user // 250}.{2 + user % 250}" if self.spread else None)


async def client_loop(
    target: Target, user: int, level: Level, questions: Questions, deadline: float, budget: list[int]
) -> None:
    """One simulated user: ask, wait for the answer, ask again, until time or the request budget runs out."""
    conn = target.connection(user)
    try:
        while time.monotonic() < deadline and budget[0] > 0:
            budget[0] -= 1
            body = questions.body(level.workload)
            started = time.perf_counter()
            try:
                status, reply = await asyncio.wait_for(conn.post(target.path, body), TIMEOUT)
            except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError, IndexError) as exc:
                level.fail(type(exc).__name__)
                await conn.close()
                continue
            if status == 200 and reply.startswith(b'{"answer"'):
                level.latencies.append((time.perf_counter() - started) * 1000)
            else:
                level.fail(f"HTTP {status}")
    finally:
        await conn.close()


async def sample_rss(pid: int | None, into: list[float], stop: asyncio.Event, every: float = 0.25) -> None:
    while pid is not None and not stop.is_set():
        rss = read_status(pid).get("VmRSS")
        if rss is not None:
            into.append(rss)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def run_level(target: Target, questions: Questions, workload: str, clients: int, seconds: float) -> Level:
    level = Level(workload, clients)
    budget = [max(1, int(seconds * 2000))]  # a hard cap on requests, whatever the speed
    samples: list[float] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(target.pid, samples, stop))
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(*(client_loop(target, n, level, questions, deadline, budget) for n in range(clients)))
    level.seconds = time.monotonic() - started
    stop.set()
    await sampler
    level.peak_rss_mb = max(samples) if samples else None
    return level


async def warm_up(target: Target, questions: Questions) -> None:
    """Ask every popular question once (as a portal's traffic would have) and keep the answers for follow-ups."""
    conn = Connection(target.host, target.port)
    try:
        for question in POPULAR:
            status, body = await asyncio.wait_for(conn.post(target.path, _json({"question": question})), TIMEOUT)
            if status != 200:
                raise SystemExit(f"warm-up failed: HTTP {status} {body[:200]!r}")
            questions.answers[question] = json.loads(body)["answer"]
    finally:
        await conn.close()


# ---- the server under test ------------------------------------------------------------------------


def read_status(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak) of ``pid`` in MB, from /proc."""
    values: dict[str, float] = {}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def served(args: argparse.Namespace, workdir: Path) -> Iterator[tuple[Target, float]]:
    """``qa serve`` in a subprocess; yields the target and the cold start (spawn to first answer) in seconds."""
    port = free_port()
    env = {
        **os.environ,
        "QA_PORT": str(port),
        "QA_HOST": "127.0.0.1",
        "QA_RATE_LIMIT": "0",
        "QA_DB": str(workdir / "questions.sqlite3"),
        "QA_THREADS": str(args.threads),
        "QA_INDEX_DIR": str(args.index),
    }
    log = (workdir / "server.log").open("wb")
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "qa.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        target = Target("127.0.0.1", port, "/api/ask", proc.pid)
        cold = wait_for_first_answer(target, proc, started, workdir / "server.log")
        yield target, cold
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.close()


def wait_for_first_answer(target: Target, proc: subprocess.Popen[bytes], started: float, log: Path) -> float:
    """Seconds from spawning the server to its first answer (the model must already be cached)."""
    body = _json({"question": "警快办是什么？"})
    while time.monotonic() - started < 120:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            status, _ = asyncio.run(_ask_once(target, body))
            if status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit("server did not answer within 120 s")


async def _ask_once(target: Target, body: bytes) -> tuple[int, bytes]:
    conn = Connection(target.host, target.port)
    try:
        return await asyncio.wait_for(conn.post(target.path, body), TIMEOUT)
    finally:
        await conn.close()


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def url_target(url: str, pid: int | None, spread: bool) -> Target:
    parts = urlsplit(url)
    prefix = parts.path.rstrip("/")
    return Target(parts.hostname or "127.0.0.1", parts.port or 80, f"{prefix}/api/ask", pid, spread)


# ---- soak -------------------------------------------------------------------------------------------


async def soak(target: Target, questions: Questions, seconds: float, clients: int) -> dict[str, Any]:
    """The mixed load for ``seconds``; RSS taken every 10 s; growth compared with the first minute's end."""
    timeline: list[tuple[float, float]] = []
    total = Level("mixed", clients)
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        level = await run_level(target, questions, "mixed", clients, min(10.0, seconds - elapsed))
        total.latencies += level.latencies
        total.seconds += level.seconds
        for kind, n in level.error_kinds.items():
            total.errors += n
            total.error_kinds[kind] = total.error_kinds.get(kind, 0) + n
        rss = read_status(target.pid).get("VmRSS") if target.pid else None
        if rss is not None:
            timeline.append((round(time.monotonic() - started), rss))
    baseline = next((rss for t, rss in timeline if t >= 60), timeline[0][1] if timeline else None)
    final = timeline[-1][1] if timeline else None
    growth = (final / baseline - 1) * 100 if baseline and final else None
    return {"level": total, "timeline": timeline, "baseline": baseline, "final": final, "growth_pct": growth}


# ---- report -----------------------------------------------------------------------------------------


def table(levels: list[Level]) -> str:
    rows = [
        "| workload | clients | requests | q/s | p50 ms | p95 ms | p99 ms | errors | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in levels:
        rss = f"{lv.peak_rss_mb:.0f}" if lv.peak_rss_mb else "n/a"
        errors = str(lv.errors) + (
            f" ({', '.join(f'{k}: {n}' for k, n in lv.error_kinds.items())})" if lv.errors else ""
        )
        rows.append(
            f"| {lv.workload} | {lv.clients} | {len(lv.latencies)} | {lv.throughput:.1f} | {lv.percentile(50):.1f} "
            f"| {lv.percentile(95):.1f} | {lv.percentile(99):.1f} | {errors} | {rss} |"
        )
    return "\n".join(rows)


def soak_report(result: dict[str, Any], seconds: float) -> str:
    lv: Level = result["level"]
    growth = result["growth_pct"]
    lines = [
        f"Soak: {seconds:.0f} s of the mixed load at {lv.clients} clients: {len(lv.latencies)} answers, "
        f"{lv.throughput:.1f} q/s, p95 {lv.percentile(95):.1f} ms, errors {lv.errors}.",
        f"RSS after the first minute {result['baseline'] or 0:.0f} MB, at the end {result['final'] or 0:.0f} MB"
        + (f" ({growth:+.1f} %)." if growth is not None else "."),
        "RSS timeline (s: MB): " + ", ".join(f"{t}: {rss:.0f}" for t, rss in result["timeline"]),
    ]
    return "\n".join(lines)


async def run_all(target: Target, args: argparse.Namespace) -> list[Level]:
    questions = Questions(args.seed)
    await warm_up(target, questions)
    levels = []
    for workload in args.workloads:
        for clients in args.levels:
            level = await run_level(target, questions, workload, clients, args.seconds)
            print(table([level]).splitlines()[-1], file=sys.stderr, flush=True)
            levels.append(level)
    return levels


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="benchmark a running server instead of starting one")
    parser.add_argument("--pid", type=int, help="with --url: the server process, for RSS")
    parser.add_argument(
        "--spread", action="store_true", help="with --url on loopback: one source address per user (sticky proxies)"
    )
    parser.add_argument("--quick", action="store_true", help="3 s per level (checks the tool, not the server)")
    parser.add_argument("--seconds", type=float, default=20.0, help="per level (default 20)")
    parser.add_argument("--levels", default=",".join(map(str, LEVELS)), help="concurrent clients, comma-separated")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="repeated, novel, mixed")
    parser.add_argument(
        "--threads",
        type=int,
        default=int(os.environ.get("QA_THREADS", "1")),
        help="QA_THREADS (the product's default: 1)",
    )
    parser.add_argument("--index", type=Path, default=Path(os.environ.get("QA_INDEX_DIR", REPO / "index")))
    parser.add_argument("--soak", type=float, default=0.0, help="seconds of mixed load at --soak-clients")
    parser.add_argument("--soak-clients", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    args.seconds = 3.0 if args.quick else args.seconds
    args.levels = [int(n) for n in str(args.levels).split(",") if n]
    args.workloads = [w for w in str(args.workloads).split(",") if w]
    if unknown := set(args.workloads) - set(WORKLOADS):
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        if args.url:
            report(args, url_target(args.url, args.pid, args.spread), None)
            return
        with served(args, Path(tmp)) as (target, cold):
            report(args, target, cold)


def report(args: argparse.Namespace, target: Target, cold: float | None) -> None:
    levels = asyncio.run(run_all(target, args))
    soaked = asyncio.run(soak(target, Questions(args.seed + 1), args.soak, args.soak_clients)) if args.soak else None
    status = read_status(target.pid) if target.pid else {}
    print(f"\nTargets: {TARGETS}. QA_THREADS={args.threads}, {args.seconds:.0f} s per level, {os.cpu_count()} CPUs.")
    if cold is not None:
        print(f"Cold start (spawn to first answer): {cold:.1f} s.")
    if "VmHWM" in status:
        print(f"Server peak RSS (VmHWM) over the whole run: {status['VmHWM']:.0f} MB.")
    print()
    print(table(levels))
    if soaked:
        print()
        print(soak_report(soaked, args.soak))
    if args.json:
        args.json.write_text(json.dumps(results_json(levels, cold, status, soaked), indent=1), encoding="utf-8")


def results_json(levels: list[Level], cold: float | None, status: dict[str, float], soaked: Any) -> dict[str, Any]:
    rows = [
        {
            "workload": lv.workload,
            "clients": lv.clients,
            "requests": len(lv.latencies),
            "qps": lv.throughput,
            "p50": lv.percentile(50),
            "p95": lv.percentile(95),
            "p99": lv.percentile(99),
            "errors": lv.errors,
            "peak_rss_mb": lv.peak_rss_mb,
        }
        for lv in levels
    ]
    soak_json = None
    if soaked:
        soak_json = {k: v for k, v in soaked.items() if k != "level"} | {"errors": soaked["level"].errors}
    return {"cold_start_s": cold, "vm_hwm_mb": status.get("VmHWM"), "levels": rows, "soak": soak_json}


if __name__ == "__main__":
    main()
