"""The console under gunicorn, in its own processes, on the test database: what a second app
server behind a load balancer is."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    """The database the running test uses, as a URL another process can open."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    host, port = settings["HOST"] or "127.0.0.1", settings["PORT"] or 5432
    return f"postgres://{settings['USER']}@{host}:{port}/{settings['NAME']}"


def start_app_server(phare_api_url: str, *, workers: int = 1) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = os.environ | {
        "DJANGO_SETTINGS_MODULE": "phare_console.test_settings",
        "DATABASE_URL": database_url(),
        "PHARE_API_URL": phare_api_url,
        "DATABASE_CONN_MAX_AGE": "0",
    }
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, "-m", "gunicorn", "phare_console.wsgi:application"]
        + ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "4"]
        + ["--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"gunicorn did not start on {url}")


def logged_in_client(base_url: str, session_key: str, page: str) -> tuple[httpx.Client, str]:
    """An HTTP client with the session cookie, and the CSRF token read from `page`."""
    client = httpx.Client(base_url=base_url, cookies={"sessionid": session_key}, timeout=30)
    html = client.get(page).text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    if token is None:
        raise AssertionError(f"no CSRF token on {page}: {html[:300]}")
    return client, token.group(1)
