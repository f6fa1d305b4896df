"""deploy/nginx.conf, for real: nginx on loopback in front of two replicas (fake embedder, one shared index).

Skipped where nginx is not installed (`apt-get install nginx`; scripts/system-deps.sh does it as root).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import pytest
from tests.webapp import Live, build_web_index, free_port, live_server

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "deploy" / "nginx.conf"
QUESTION = "警快办有多少人注册？"
CLIENTS = [f"127.0.0.{n}" for n in range(2, 18)]  # 16 loopback source addresses: 16 "users"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]


@dataclass
class Deployment:
    url: str
    replicas: list[Live]
    stack: ExitStack


def site_config(listen: int, ports: list[int]) -> str:
    """The repository's config with the listen port and the replicas' ports replaced, nothing else."""
    text = CONFIG.read_text(encoding="utf-8")
    text = re.sub(r"listen 80;", f"listen 127.0.0.1:{listen};", text)
    servers = iter(ports)
    text = re.sub(r"server 127\.0\.0\.1:786\d", lambda _: f"server 127.0.0.1:{next(servers)}", text)
    assert next(servers, None) is None, "deploy/nginx.conf should list exactly two replicas"
    return text


def main_config(folder: Path, site: Path) -> str:
    """A minimal nginx.conf around the site snippet, everything inside ``folder``."""
    temp = "\n".join(
        f"    {kind}_temp_path {folder}/{kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach the temp folders inside tmp_path
    return (
        f"{user}worker_processes 1;\npid {folder}/nginx.pid;\nerror_log {folder}/error.log warn;\n"
        f"events {{ worker_connections 512; }}\n"
        f"http {{\n    access_log {folder}/access.log;\n{temp}\n    include {site};\n}}\n"
    )


def wait_for_port(port: int, proc: subprocess.Popen[bytes], folder: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError((folder / "error.log").read_text(errors="replace"))
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("nginx did not start")


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    shared = build_web_index(tmp_path / "shared", with_xss_case=False)  # one index for both, as after `qa index`
    with ExitStack() as stack:
        replicas = [
            stack.enter_context(
                live_server(
                    replace(
                        shared, db_path=tmp_path / f"replica{n}.sqlite3", trusted_proxies=("127.0.0.1",), log_ip=True
                    )
                )
            )
            for n in (1, 2)
        ]
        ports = [int(r.url.rstrip("/").rsplit(":", 1)[1]) for r in replicas]
        listen = free_port()
        folder = tmp_path / "nginx"
        folder.mkdir()
        (folder / "qa.conf").write_text(site_config(listen, ports), encoding="utf-8")
        (folder / "nginx.conf").write_text(main_config(folder, folder / "qa.conf"), encoding="utf-8")
        proc = subprocess.Popen(
            [
                "nginx",
                "-p",
                str(folder),
                "-c",
                str(folder / "nginx.conf"),
                "-e",
                str(folder / "error.log"),
                "-g",
                "daemon off;",
            ]
        )
        stack.callback(_stop, proc)
        wait_for_port(listen, proc, folder)
        yield Deployment(f"http://127.0.0.1:{listen}/", replicas, stack)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def ask_from(url: str, source: str, question: str = QUESTION) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, trust_env=False, timeout=15) as client:
        return client.post(url + "api/ask", json={"question": question})


def replica_of(deployment: Deployment) -> dict[str, set[int]]:
    """Which replica logged each client address (the log's ip column, read from X-Forwarded-For)."""
    seen: dict[str, set[int]] = {}
    for n, replica in enumerate(deployment.replicas):
        assert replica.qlog.flush()
        for row in replica.qlog.rows():
            seen.setdefault(row["ip"], set()).add(n)
    return seen


def test_requests_reach_both_replicas_and_each_client_sticks_to_one(deployment: Deployment) -> None:
    for _ in range(3):
        for source in CLIENTS:
            response = ask_from(deployment.url, source)
            assert response.status_code == 200 and "1714万" in response.json()["answer"]
    seen = replica_of(deployment)
    assert set(seen) == set(CLIENTS)  # the replicas saw the clients' own addresses, not nginx's
    assert all(len(replicas) == 1 for replicas in seen.values())  # sticky
    assert {next(iter(replicas)) for replicas in seen.values()} == {0, 1}  # and both replicas got traffic


def test_the_chat_page_and_its_queue_work_through_nginx(deployment: Deployment) -> None:
    from gradio_client import Client

    page = httpx.get(deployment.url, trust_env=False, timeout=15)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "Server" not in page.headers or "nginx/" not in page.headers["Server"]
    client = Client(deployment.url, verbose=False)  # the queue: join, then the event stream, through nginx
    try:
        reply = client.predict(question=QUESTION, history=[], api_name="/ask")
        assert "1714万" in reply["answer"]
    finally:
        client.close()


def test_health_big_bodies_and_admin_routes(deployment: Deployment) -> None:
    health = httpx.get(deployment.url + "healthz", trust_env=False)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    big = httpx.post(deployment.url + "api/ask", json={"question": "x" * 100_000}, trust_env=False)
    assert big.status_code == 413 and big.json() == {"error": "请求体过大（上限 64 KB）。"}
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.9"), trust_env=False) as outsider:
        assert outsider.get(deployment.url + "api/admin/status").status_code == 403


def test_a_stopped_replica_is_skipped(deployment: Deployment) -> None:
    first = deployment.replicas[0]
    for source in CLIENTS[:4]:
        assert ask_from(deployment.url, source).status_code == 200
    first.stop()
    for source in CLIENTS:  # the stopped replica's clients move to the other one
        assert ask_from(deployment.url, source, "荣昌调解中心有多少间调解室？").status_code == 200
    assert httpx.get(deployment.url + "healthz", trust_env=False).status_code == 200
    deployment.replicas[1].stop()  # none left: nginx's own Chinese 503, not an HTML error page
    down = ask_from(deployment.url, CLIENTS[0])
    assert down.status_code == 503 and down.json() == {"error": "服务暂时不可用，请稍后再试。"}
