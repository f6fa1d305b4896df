"""docs/deploy.md, followed as written, on loopback: Debian's nginx layout, TLS, the documented replica environment.

The nginx part copies the machine's real /etc/nginx (Debian's nginx.conf, its default site and
all) into a temporary root and runs the install commands of docs/deploy.md there, with every
/etc path moved under that root. Only addresses change: ports 80/443 become loopback ports
(in Debian's default site as well, so that the collision it causes is real), IPv6 listens are
dropped, and the upstream lists the test replicas' ports. The replicas run with the environment
of deploy/qa.env and deploy/qa@.service (paths moved under the root, the fake embedder).
Needs root and nginx, as in CI (scripts/system-deps.sh installs it); skipped otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from tests.webapp import Live, build_web_index, free_ports, live_server

from qa.config import Settings

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "deploy.md"
SITE = REPO / "deploy" / "nginx" / "qa"
ENV_FILE = REPO / "deploy" / "qa.env"
UNIT = REPO / "deploy" / "qa@.service"
ROTATE = REPO / "deploy" / "qlog-rotate.py"
QUESTION = "警快办有多少人注册？"
CLIENTS = [f"127.0.0.{n}" for n in range(2, 18)]  # 16 loopback source addresses: 16 "users"
SERVER_NAME = "qa.intranet.example"  # the certificate's name in the doc's openssl command
PORTAL = "https://portal.intranet.example"  # QA_ALLOWED_ORIGINS in deploy/qa.env
RUN_MARK = "<!-- tests/test_deploy.py runs this block -->"

needs_nginx = pytest.mark.skipif(
    shutil.which("nginx") is None or not Path("/etc/nginx/nginx.conf").exists() or os.geteuid() != 0,
    reason="needs Debian's nginx (apt-get install nginx; scripts/system-deps.sh) and root, as in CI",
)


# ---- the documented files ---------------------------------------------------------------------------


def doc_blocks(marker: str = RUN_MARK) -> list[str]:
    """The fenced blocks of docs/deploy.md that follow ``marker``, in order."""
    text = DOC.read_text(encoding="utf-8")
    return [m.group(1) for m in re.finditer(re.escape(marker) + r"\s*```\w*\n(.*?)```", text, re.S)]


def unit_environment(port: int) -> dict[str, str]:
    """The environment qa@<port>.service gives its replica: the EnvironmentFile, then Environment= lines."""
    env = parse_env_file(ENV_FILE.read_text(encoding="utf-8"))
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if line.startswith("Environment="):
            name, _, value = line.removeprefix("Environment=").partition("=")
            env[name] = value.replace("%i", str(port))
    return env


def parse_env_file(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def test_the_unit_in_the_doc_is_the_file_and_has_no_end_of_line_comments() -> None:
    unit = UNIT.read_text(encoding="utf-8")
    assert unit in [block for block in doc_blocks("<!-- deploy/qa@.service -->")], "docs/deploy.md shows another unit"
    for line in unit.splitlines():
        assert line.startswith("#") or "#" not in line, f"systemd would read this comment as a value: {line!r}"
    assert "EnvironmentFile=/etc/qa/qa.env" in unit


def test_every_replica_gets_the_allowlist_and_trusts_only_nginx() -> None:
    for port in (7861, 7862):
        env = unit_environment(port)
        assert env["QA_ALLOWED_ORIGINS"] == PORTAL and env["QA_TRUSTED_PROXIES"] == "127.0.0.1"
        assert env["QA_PORT"] == str(port) and env["QA_DB"].endswith(f"-{port}.sqlite3")  # one log per replica


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
@pytest.mark.parametrize("units", [["qa@.service"], ["qa-qlog-rotate.service", "qa-qlog-rotate.timer"]])
def test_systemd_accepts_the_units(tmp_path: Path, units: list[str]) -> None:
    """`systemd-analyze verify`, which also reports lines it ignores; only ExecStart's path is made to exist."""
    for name in units:
        text = (REPO / "deploy" / name).read_text(encoding="utf-8")
        text = text.replace("/opt/qa/.venv/bin/qa", str(REPO / ".venv" / "bin" / "qa"))
        (tmp_path / name).write_text(text, encoding="utf-8")
    verify = subprocess.run(
        ["systemd-analyze", "verify", *(str(tmp_path / name) for name in units)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stdout + verify.stderr


def test_debian_logrotate_covers_the_sites_logs() -> None:
    import fnmatch

    logs = re.findall(r"(?:access|error)_log (\S+?)[ ;]", SITE.read_text(encoding="utf-8"))
    assert logs, "the site should name its own log files"
    # Debian's nginx package rotates /var/log/nginx/*.log (/etc/logrotate.d/nginx).
    assert all(fnmatch.fnmatch(path, "/var/log/nginx/*.log") for path in logs), logs


def test_qlog_rotate_archives_then_prunes_old_rows(tmp_path: Path) -> None:
    import sqlite3

    from qa.qlog import QuestionLog

    db = tmp_path / "questions-7861.sqlite3"
    qlog = QuestionLog(db)
    ids = [qlog.log(question=q, query=q, answer="a", case_ids=[], grounded=True, latency_ms=1) for q in "ab"]
    assert qlog.flush()
    qlog.close()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE questions SET asked_at = '2020-01-01T00:00:00.000+00:00' WHERE id = ?", (ids[0],))
    done = subprocess.run([sys.executable, str(ROTATE), "--keep-days", "30", str(db)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    [archive] = (tmp_path / "archive").glob("questions-7861-*.sqlite3")
    assert {row["id"] for row in QuestionLog(archive).rows()} == set(ids)  # the archive has everything
    assert [row["id"] for row in QuestionLog(db).rows()] == [ids[1]]  # the live log only what is recent


# ---- nginx, installed as the doc says ----------------------------------------------------------------


@dataclass
class Deployment:
    root: Path
    http: int
    https: int
    replicas: list[Live]
    cert: Path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https}/"

    def client(self, source: str = "127.0.0.1") -> httpx.Client:
        """A client that checks the certificate (the self-signed one) against its name, from ``source``."""
        context = ssl.create_default_context(cafile=str(self.cert))
        transport = httpx.HTTPTransport(local_address=source, verify=context)
        return httpx.Client(transport=transport, trust_env=False, timeout=15, verify=context)

    def get(self, path: str, source: str = "127.0.0.1", **kwargs: object) -> httpx.Response:
        with self.client(source) as client:
            return client.get(self.url + path, extensions={"sni_hostname": SERVER_NAME}, **kwargs)  # type: ignore[arg-type]

    def ask(self, source: str, question: str = QUESTION, **kwargs: object) -> httpx.Response:
        with self.client(source) as client:
            return client.post(
                self.url + "api/ask",
                json={"question": question},
                extensions={"sni_hostname": SERVER_NAME},
                **kwargs,  # type: ignore[arg-type]
            )


def fake_root(tmp_path: Path) -> Path:
    """A copy of Debian's /etc/nginx (links followed) under ``tmp_path``, with its absolute paths moved there."""
    root = tmp_path / "root"
    shutil.copytree("/etc/nginx", root / "etc" / "nginx", symlinks=False)
    for folder in ("etc/ssl/certs", "etc/ssl/private", "var/log/nginx", "run"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    relocate(root / "etc" / "nginx" / "nginx.conf", root)
    return root


def relocate(conf: Path, root: Path) -> None:
    text = conf.read_text(encoding="utf-8")
    for path in ("/etc/nginx/", "/var/log/nginx/", "/run/nginx.pid", "/etc/ssl/"):
        text = text.replace(path, f"{root}{path}")
    conf.write_text(text, encoding="utf-8")


def run_doc_block(block: str, root: Path) -> None:
    """A documented shell block, with /etc moved under ``root`` and service managers left out."""
    lines = [line for line in block.splitlines() if not line.lstrip().startswith(("systemctl", "nginx -t"))]
    script = "set -euo pipefail\n" + "\n".join(lines).replace(" /etc/", f" {root}/etc/").replace(
        "=/etc/", f"={root}/etc/"
    )
    done = subprocess.run(["bash", "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{script}\n{done.stderr}"


def loopback_ports(root: Path, http: int, https: int, replicas: list[int]) -> None:
    """In every enabled site: 80/443 -> loopback ports, no IPv6 listens, the replicas' ports; paths under root."""
    for site in (root / "etc" / "nginx" / "sites-enabled").iterdir():
        text = site.read_text(encoding="utf-8")
        text = re.sub(r"^\s*listen \[::\]:\d+.*$", "", text, flags=re.M)
        text = re.sub(r"listen 80\b", f"listen 127.0.0.1:{http}", text)
        text = re.sub(r"listen 443\b", f"listen 127.0.0.1:{https}", text)
        text = upstream_ports(text, replicas)
        if site.is_symlink():
            site.unlink()
        site.write_text(text, encoding="utf-8")
        relocate(site, root)


def upstream_ports(text: str, ports: list[int]) -> str:
    """The upstream's ``server 127.0.0.1:786x`` lines pointed at ``ports``, in order."""
    replacements = iter(ports)
    return re.sub(r"server 127\.0\.0\.1:786\d", lambda _: f"server 127.0.0.1:{next(replacements)}", text)


def nginx(root: Path, *args: str) -> list[str]:
    # -c alone: relative includes (snippets/qa-proxy.conf) resolve beside it, modules stay where Debian put them.
    conf = root / "etc" / "nginx" / "nginx.conf"
    return ["nginx", "-c", str(conf), "-e", f"{root}/var/log/nginx/error.log", *args]


def replica_settings(root: Path, port: int, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings.from_env() under the unit's environment, absolute paths moved under ``root``."""
    for name, value in unit_environment(port).items():
        monkeypatch.setenv(name, f"{root}{value}" if value.startswith("/") else value)
    monkeypatch.setenv("QA_LOG_IP", "1")  # the doc's optional setting, to see the address each replica logs
    return Settings.from_env(knowledge_dir=root / "srv" / "qa" / "knowledge")


def wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(log.read_text(errors="replace"))
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("nginx did not start")


@pytest.fixture
def deployment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    root = fake_root(tmp_path)
    [tls, install] = doc_blocks()
    run_doc_block(tls, root)
    http, https, *ports = free_ports(4)
    build_web_index(root / "srv" / "qa", with_xss_case=False)  # one index for both, as after `qa index`
    with ExitStack() as stack:
        replicas = [stack.enter_context(live_server(replica_settings(root, p, monkeypatch), port=p)) for p in ports]
        _install_site(root, install, http, https, ports)
        log = root / "var" / "log" / "nginx" / "error.log"
        proc = subprocess.Popen(nginx(root, "-g", "daemon off;"))
        stack.callback(_stop, proc)
        wait_for_port(https, proc, log)
        yield Deployment(root, http, https, replicas, root / "etc" / "ssl" / "certs" / "qa.crt")


def _install_site(root: Path, install: str, http: int, https: int, ports: list[int]) -> None:
    """The doc's install block, in two steps: without its last line nginx -t must fail, with it pass."""
    lines = install.strip().splitlines()
    removal = [line for line in lines if "sites-enabled/default" in line and line.startswith("rm ")]
    assert removal, "docs/deploy.md should say to remove Debian's default site"
    run_doc_block("\n".join(line for line in lines if line not in removal), root)
    loopback_ports(root, http, https, ports)
    clash = subprocess.run(nginx(root, "-t"), capture_output=True, text=True)
    assert clash.returncode != 0 and "duplicate default server" in clash.stderr, clash.stderr
    run_doc_block("\n".join(removal), root)
    check = subprocess.run(nginx(root, "-t"), capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def replica_of(deployment: Deployment) -> dict[str, set[int]]:
    """Which replica logged each client address (the log's ip column, read from X-Forwarded-For)."""
    seen: dict[str, set[int]] = {}
    for n, replica in enumerate(deployment.replicas):
        assert replica.qlog.flush()
        for row in replica.qlog.rows():
            seen.setdefault(row["ip"], set()).add(n)
    return seen


@pytest.mark.slow
@needs_nginx
def test_the_documented_site_serves_the_widget_over_https(deployment: Deployment) -> None:
    health = deployment.get("healthz")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    with httpx.Client(trust_env=False) as plain:  # port 80 only redirects to HTTPS
        moved = plain.get(f"http://127.0.0.1:{deployment.http}/widget", headers={"host": SERVER_NAME})
    assert moved.status_code == 301 and moved.headers["location"] == f"https://{SERVER_NAME}/widget"
    embed = deployment.get("embed.js")
    assert embed.status_code == 200 and "attachShadow" in embed.text
    assert "nginx/" not in embed.headers.get("server", "")
    for method in ("GET", "HEAD"):  # the check embed.md tells the operator to run, both ways
        with deployment.client() as client:
            widget = client.request(method, deployment.url + "widget", extensions={"sni_hostname": SERVER_NAME})
        assert widget.status_code == 200
        assert f"frame-ancestors {PORTAL}" in widget.headers["content-security-policy"]


@pytest.mark.slow
@needs_nginx
def test_an_allowed_portal_may_call_the_api_and_another_may_not(deployment: Deployment) -> None:
    allowed = deployment.ask(CLIENTS[0], headers={"origin": PORTAL})
    assert allowed.status_code == 200 and "1714万" in allowed.json()["answer"]
    assert allowed.headers["access-control-allow-origin"] == PORTAL
    refused = deployment.ask(CLIENTS[0], headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in refused.headers


@pytest.mark.slow
@needs_nginx
def test_each_client_sticks_to_one_replica_which_logs_its_real_address(deployment: Deployment) -> None:
    for _ in range(2):
        for source in CLIENTS:
            response = deployment.ask(source)
            assert response.status_code == 200 and "1714万" in response.json()["answer"]
    seen = replica_of(deployment)
    assert set(seen) == set(CLIENTS)  # the replicas saw the clients' own addresses, not nginx's
    assert all(len(replicas) == 1 for replicas in seen.values())  # sticky
    assert {next(iter(replicas)) for replicas in seen.values()} == {0, 1}  # and both replicas got traffic
    access = (deployment.root / "var" / "log" / "nginx" / "qa.access.log").read_text(encoding="utf-8")
    assert {line.split()[0] for line in access.splitlines() if "/api/ask" in line} == set(CLIENTS)


@pytest.mark.slow
@needs_nginx
def test_the_chat_page_and_its_queue_work_through_nginx(deployment: Deployment) -> None:
    from gradio_client import Client

    page = deployment.get("")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    client = Client(deployment.url, verbose=False, ssl_verify=False)  # the queue: join, then the event stream
    try:
        assert "1714万" in client.predict(question=QUESTION, history=[], api_name="/ask")["answer"]
    finally:
        client.close()
    assert deployment.get("api/admin/status", source="127.0.0.9").status_code == 403
    with deployment.client() as client:
        big = client.post(
            deployment.url + "api/ask", json={"question": "x" * 100_000}, extensions={"sni_hostname": SERVER_NAME}
        )
    assert big.status_code == 413 and big.json() == {"error": "请求体过大（上限 64 KB）。"}


@pytest.mark.slow
@needs_nginx
def test_a_stopped_replica_is_skipped(deployment: Deployment) -> None:
    for source in CLIENTS[:4]:
        assert deployment.ask(source).status_code == 200
    deployment.replicas[0].stop()
    for source in CLIENTS:  # the stopped replica's clients move to the other one
        assert deployment.ask(source, "荣昌调解中心有多少间调解室？").status_code == 200
    assert deployment.get("healthz").status_code == 200
    deployment.replicas[1].stop()  # none left: nginx's own Chinese 503, not an HTML error page
    down = deployment.ask(CLIENTS[0])
    assert down.status_code == 503 and down.json() == {"error": "服务暂时不可用，请稍后再试。"}
