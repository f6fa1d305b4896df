"""A long fuzz run against a live server: ``POST /api/ask``, the Gradio routes and the widget's routes.

CI runs the hypothesis properties in tests/test_fuzz.py with 150 examples each,
which is right for CI. This script sends many more (10,000 by default, seeded,
so a run can be repeated) to a real uvicorn server in a subprocess and checks the
app's error contract on every answer (docs/security.md):

* no 5xx;
* every error a JSON ``{"error": "<中文>"}`` and nothing else, no trace in any body;
* the server's log stays small: each distinct fault's trace at most once.

It prints one markdown row for docs/benchmarks.md: cases, 5xx, contract
violations, timeouts, the server's peak RSS and how much it logged.

    .venv/bin/python bench/fuzz.py                  # 10,000 cases, fake embedder (the web layer is what is fuzzed)
    .venv/bin/python bench/fuzz.py --cases 500      # a quick look
    .venv/bin/python bench/fuzz.py --real           # `qa serve` with the real index and model instead

The server runs with ``QA_RATE_LIMIT=0`` (the limiter would answer 429 to nearly
everything) and a throw-away question log.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import socket
import string
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import h11
import httpx

REPO = Path(__file__).resolve().parents[1]
CJK = re.compile(r"[\u4e00-\u9fff]")
TRACE = re.compile(r"Traceback|File \"|line \d+, in ")
TIMEOUT = 10.0
STREAM_TIMEOUT = 3.0  # queue/data answers with an event stream; a few seconds of it is enough
WORDS = ["警快办", "注册人数", "荣昌", "调解", "5G", "法庭", "莎姐", "？", "多少", "它", "那", "呢", "的"]
NASTY = ["\x00", "\ud800", "\udfff", "\u202e", "\u200b", "🙂", "<script>", "'; DROP TABLE questions;--", "%s%n", "\\"]
CONTENT_TYPES = ["application/json", "text/plain", "multipart/form-data; boundary=x", "", "application/xml"]
GRADIO_PATHS = [
    "/gradio_api/queue/join",
    "/gradio_api/queue/data",
    "/gradio_api/component_server",
    "/gradio_api/process_recording",
    "/gradio_api/upload",
    "/gradio_api/run/ask",
    "/gradio_api/call/ask",
    "/gradio_api/call/v2/ask",
    "/gradio_api/api/ask",
    "/gradio_api/cancel",
    "/gradio_api/reset",
    "/gradio_api/info",
    "/gradio_api/file=/etc/passwd",
    "/gradio_api/stream/x",
    "/login",
    "/logout",
    "/config",
    "/theme.css",
    "/assets/",
    "/static/",
    "/svelte/",
    "/monitoring",
    "/",
]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]


# ---- random inputs ---------------------------------------------------------------------------------


def text(rng: random.Random, size: int = 60) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(0, size)):
        kind = rng.random()
        if kind < 0.4:
            parts.append(rng.choice(WORDS))
        elif kind < 0.55:
            parts.append(rng.choice(NASTY))
        elif kind < 0.8:
            parts.append(chr(rng.randint(0x20, 0x7E)))
        else:
            parts.append(chr(rng.randint(0x80, 0x10FFFF)))
    return "".join(parts)


def url_text(rng: random.Random, size: int = 10) -> str:
    """Random text, percent-encoded for a path or a query (lone surrogates as their raw bytes)."""
    return quote(text(rng, size).encode("utf-8", "surrogatepass"), safe="")


def ascii_text(rng: random.Random, size: int = 20) -> str:
    """Header values travel as ASCII."""
    return "".join(chr(rng.randint(0x21, 0x7E)) for _ in range(rng.randint(1, size)))


def value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randint(0, 7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.choice([0, -1, 1, 2**31, 2**63, 10**30, rng.randint(-1000, 1000)])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e-308, rng.uniform(-1e6, 1e6)])
    if kind in (4, 5):
        return text(rng, 20)
    if kind == 6:
        return [value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {text(rng, 3): value(rng, depth + 1) for _ in range(rng.randint(0, 4))}


def dumps(body: Any) -> bytes:
    """JSON with lone surrogates escaped (valid JSON that is not valid UTF-8 once decoded)."""
    return json.dumps(body, ensure_ascii=True).encode("ascii")


# ---- cases: (route class, request) ---------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    stream: bool = False


def ask_case(rng: random.Random, sessions: list[str]) -> Request:
    roll = rng.random()
    if roll < 0.35:
        history = [
            {"role": rng.choice(["user", "assistant", "x"]), "content": text(rng, 10)} for _ in range(rng.randint(0, 4))
        ]
        body: Any = {"question": text(rng), "history": history}
        if rng.random() < 0.5:
            body["session_id"] = rng.choice(["w-" + os.urandom(12).hex(), text(rng, 10), "x" * 100])
        content = dumps(body)
    elif roll < 0.6:
        content = dumps(value(rng))
    elif roll < 0.75:
        content = dumps({"question": value(rng), "history": value(rng), "session_id": value(rng)})
    elif roll < 0.92:
        content = os.urandom(rng.randint(0, 2000)) if rng.random() < 0.5 else text(rng).encode("utf-8", "replace")
    elif roll < 0.97:
        content = b'{"question": "' + b"x" * rng.choice([70_000, 1_000_000]) + b'"}'
    else:
        content = b'{"question": "x", "history": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    return Request("POST", "/api/ask", content, {"content-type": rng.choice(CONTENT_TYPES)})


def feedback_case(rng: random.Random, sessions: list[str]) -> Request:
    body = rng.choice(
        [
            {"id": os.urandom(16).hex(), "liked": rng.choice([True, False, None])},
            {"id": text(rng, 40), "liked": value(rng)},
            value(rng),
        ]
    )
    return Request("POST", "/api/feedback", dumps(body), {"content-type": "application/json"})


def queue_case(rng: random.Random, sessions: list[str], events: list[int]) -> Request:
    session = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(11))
    roll = rng.random()
    if roll < 0.5 and events:
        # A well-formed join for one of the page's events, with random data: it reaches the handlers.
        fn_index = rng.choice(events)
        body: Any = {
            "data": [value(rng) if rng.random() < 0.5 else text(rng) for _ in range(rng.randint(1, 2))],
            "fn_index": fn_index,
            "session_hash": session,
            "event_data": rng.choice(
                [None, value(rng), {"index": value(rng), "value": value(rng), "liked": value(rng)}]
            ),
            "trigger_id": rng.choice([None, rng.randint(-5, 50)]),
        }
        sessions.append(session)
    elif roll < 0.8:
        body = {"data": value(rng), "fn_index": value(rng), "session_hash": value(rng)}
    else:
        body = value(rng)
    return Request("POST", "/gradio_api/queue/join", dumps(body), {"content-type": "application/json"})


def gradio_case(rng: random.Random, sessions: list[str]) -> Request:
    roll = rng.random()
    if roll < 0.25 and sessions:
        session = sessions.pop(rng.randrange(len(sessions)))
        return Request("GET", f"/gradio_api/queue/data?session_hash={session}", stream=True)
    if roll < 0.35:
        return Request("GET", f"/gradio_api/queue/data?session_hash={url_text(rng, 8)}", stream=True)
    path = rng.choice(GRADIO_PATHS)
    if path.endswith("/") and path != "/":
        path += rng.choice(["index.js", "../../etc/passwd", "%2e%2e/x", url_text(rng, 5)])
    method = rng.choice(METHODS)
    headers = {"content-type": rng.choice(CONTENT_TYPES)}
    content = (
        None if method in ("GET", "HEAD", "OPTIONS") else (dumps(value(rng)) if rng.random() < 0.7 else os.urandom(300))
    )
    if method == "POST" and (path == "/gradio_api/upload" or rng.random() < 0.02):
        content = b"x" * 1_100_000  # over the 64 KB limit on every route
    return Request(method, path, content, headers)


def widget_case(rng: random.Random, sessions: list[str]) -> Request:
    roll = rng.random()
    if roll < 0.3:
        query = f"?title={url_text(rng)}&color={rng.choice(['%23c0392b', 'red', url_text(rng, 5)])}"
        return Request(rng.choice(["GET", "HEAD"]), "/widget" + query, headers={"if-none-match": ascii_text(rng)})
    if roll < 0.55:
        name = rng.choice(
            ["widget.js", "widget.css", "widget.html", "../embed.js", "..%2f..%2fserver.py", url_text(rng, 8)]
        )
        return Request("GET", f"/widget/{name}?v={url_text(rng, 4)}")
    if roll < 0.7:
        return Request(rng.choice(["GET", "HEAD", "POST"]), "/embed.js", headers={"if-none-match": ascii_text(rng)})
    # CORS preflights and simple requests from random origins (the widget's API calls from portals).
    origin = rng.choice(["https://evil.example", "null", "http://127.0.0.1:1", ascii_text(rng)])
    headers = {
        "origin": origin,
        "access-control-request-method": rng.choice(["POST", "DELETE", "GET", ascii_text(rng, 4)]),
        "access-control-request-headers": rng.choice(["content-type", "x-token", "content-type, authorization"]),
    }
    return Request("OPTIONS", rng.choice(["/api/ask", "/api/feedback", "/widget", "/"]), headers=headers)


# ---- checking ---------------------------------------------------------------------------------------


@dataclass
class Tally:
    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    timeouts: int = 0

    def check(self, route: str, request: Request, status: int, body: bytes, content_type: str) -> None:
        self.cases[route] += 1
        self.statuses[status] += 1
        what = f"{request.method} {request.path[:80]} -> {status}"
        if status >= 500:
            self.server_errors.append(what)
        if TRACE.search(body.decode("utf-8", "replace")):
            self.violations.append(what + " (a trace in the body)")
        if status >= 400 and request.method != "HEAD" and not chinese_error(body, content_type):
            self.violations.append(what + f" (not a Chinese JSON error: {body[:80]!r})")


def chinese_error(body: bytes, content_type: str) -> bool:
    if "json" not in content_type:
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and set(data) == {"error"} and bool(CJK.search(str(data["error"])))


def send(client: httpx.Client, request: Request) -> tuple[int, bytes, str]:
    if request.stream:
        body = b""
        with client.stream(request.method, request.path, headers=request.headers) as response:
            deadline = time.monotonic() + STREAM_TIMEOUT
            try:
                for chunk in response.iter_bytes():
                    body += chunk
                    if time.monotonic() > deadline or len(body) > 1_000_000:
                        break
            except httpx.ReadTimeout:
                pass
            return response.status_code, body, response.headers.get("content-type", "")
    response = client.request(request.method, request.path, content=request.content, headers=request.headers)
    return response.status_code, response.content, response.headers.get("content-type", "")


# ---- the server ---------------------------------------------------------------------------------------


def serve(root: Path, port: int) -> None:
    """(In the subprocess.) The real app around a fake-embedder index of the whole knowledge base."""
    from dataclasses import replace

    import uvicorn

    from qa.assistant import Assistant
    from qa.build import build_index
    from qa.config import Settings
    from qa.embedding import HashingEmbedder
    from qa.web import logs
    from qa.web.server import create_app

    logs.configure()
    knowledge = root / "knowledge"
    knowledge.mkdir(parents=True, exist_ok=True)
    for path in (REPO / "knowledge").glob("*.md"):
        if path.name != "README.md":
            shutil.copy(path, knowledge / path.name)
    settings = Settings(
        knowledge_dir=knowledge, index_dir=root / "index", cache_dir=root / "cache", db_path=root / "q.sqlite3"
    )
    settings = replace(settings, rate_limit_per_minute=0, reload_seconds=0.0)
    build_index(settings, HashingEmbedder(), progress=False)
    app = create_app(Assistant.load(settings=settings, embedder=HashingEmbedder()), settings)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)


def start_server(real: bool, root: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "QA_RATE_LIMIT": "0", "QA_DB": str(root / "q.sqlite3"), "QA_PORT": str(port)}
    env.update({"QA_HOST": "127.0.0.1", "QA_RELOAD_SECONDS": "0"})
    if real:
        command = [str(Path(sys.executable).parent / "qa"), "serve"]
    else:
        command = [sys.executable, __file__, "--serve", str(root), str(port)]
    process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited: see {log}")
        try:
            if httpx.get(url + "/api/health", timeout=2, trust_env=False).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("server did not start")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def page_events(url: str) -> list[int]:
    """The fn_index of each event the page offers (from /config): the chat's handlers and /ask."""
    config = httpx.get(url + "/config", timeout=TIMEOUT, trust_env=False).json()
    return sorted(int(dep["id"]) for dep in config.get("dependencies", []) if "id" in dep)


def run(cases: int, seed: int, real: bool, keep_log: Path | None = None) -> int:
    rng = random.Random(seed)
    tally = Tally()
    with tempfile.TemporaryDirectory(prefix="qa-fuzz-") as tmp:
        root = Path(tmp)
        log = root / "server.log"
        process, url = start_server(real, root, log)
        started = time.monotonic()
        try:
            events = page_events(url)
            sessions: list[str] = []
            makers: list[tuple[str, float, Callable[[], Request]]] = [
                ("POST /api/ask", 0.35, lambda: ask_case(rng, sessions)),
                ("POST /api/feedback", 0.05, lambda: feedback_case(rng, sessions)),
                ("Gradio queue/join", 0.2, lambda: queue_case(rng, sessions, events)),
                ("Gradio, other routes", 0.2, lambda: gradio_case(rng, sessions)),
                ("widget and CORS", 0.2, lambda: widget_case(rng, sessions)),
            ]
            client = httpx.Client(base_url=url, timeout=TIMEOUT, trust_env=False)
            try:
                for n in range(cases):
                    route, _, make = rng.choices(makers, weights=[m[1] for m in makers])[0]
                    request = make()
                    try:
                        status, body, content_type = send(client, request)
                    except httpx.TimeoutException:
                        tally.timeouts += 1
                        continue
                    except (httpx.HTTPError, h11.LocalProtocolError) as exc:
                        tally.violations.append(
                            f"{request.method} {request.path[:80]}: {type(exc).__name__}: {exc}"[:300]
                        )
                        client.close()  # a broken connection: start afresh
                        client = httpx.Client(base_url=url, timeout=TIMEOUT, trust_env=False)
                        continue
                    tally.check(route, request, status, body, content_type)
                    if (n + 1) % 1000 == 0:
                        print(f"  {n + 1} cases, {len(tally.server_errors)} 5xx", file=sys.stderr, flush=True)
            finally:
                client.close()
            rss = peak_rss_mb(process.pid)
        finally:
            process.terminate()
            process.wait(30)
        seconds = time.monotonic() - started
        logged = log.read_bytes()
        if keep_log:
            shutil.copy(log, keep_log)
    traces = logged.count(b"Traceback (most recent call last)")
    print(f"seed {seed}, {'real model' if real else 'fake embedder'}, {seconds:.0f} s")
    for route, count in sorted(tally.cases.items()):
        print(f"  {route}: {count}")
    print(f"  statuses: {dict(sorted(tally.statuses.items()))}")
    for line in (tally.server_errors + tally.violations)[:20]:
        print(f"  ! {line}")
    print()
    print("| cases | 5xx | contract violations | timeouts | peak RSS | server log | traces in it |")
    print("|---|---|---|---|---|---|---|")
    print(
        f"| {sum(tally.cases.values()):,} | {len(tally.server_errors)} | {len(tally.violations)} | {tally.timeouts} "
        f"| {rss:.0f} MB | {len(logged) / 1024:.1f} KB | {traces} |"
    )
    return 1 if tally.server_errors or tally.violations else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument("--real", action="store_true", help="serve the real index with the real model (qa serve)")
    parser.add_argument("--log", type=Path, help="keep a copy of the server's log here")
    parser.add_argument("--serve", nargs=2, metavar=("ROOT", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(Path(args.serve[0]), int(args.serve[1]))
        return
    raise SystemExit(run(args.cases, args.seed, args.real, args.log))


if __name__ == "__main__":
    main()
