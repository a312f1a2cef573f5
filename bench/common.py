"""What the benchmark scripts share: percentiles, the machine line, PostgreSQL databases and
their sections of BENCHMARKS.md."""

import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}"


def postgres_available(url: str) -> bool:
    check = subprocess.run(
        [sys.executable, str(ROOT / "tests/service_available.py"), "postgres", url],
        capture_output=True,
    )
    return check.returncode == 0


def ensure_postgres_database(url: str, *, fresh: bool = False) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
        if fresh:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def write_benchmarks(section: str, *, marker: str, heading: str) -> None:
    """Replace the script's own section of BENCHMARKS.md (between its markers)."""
    path = ROOT / "BENCHMARKS.md"
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{start}\n{section}\n{end}"
    if start in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + f"\n\n## {heading}\n\n" + block
    path.write_text(text.rstrip() + "\n")


def setup_django(database_url: str, **overrides: str) -> None:
    """Django in this process with production settings on `database_url` (settings are
    global: one database per process)."""
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "phare_console.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "false",
            "SECRET_KEY": "bench-secret-key",
            "CREDENTIAL_KEYS": "M_WGKnZrF15iNgYIvRUEFaE2wQAX1C0zP-prn-z4r6E=",
            "AUDIT_CHAIN_KEY": "bench-audit-chain-key-bench-audit-chain-key",
            "ALLOWED_HOSTS": "testserver",
            "REDIS_URL": "",
            "LOG_LEVEL": "WARNING",
        }
        | overrides
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def wait_until_up(url: str) -> None:
    """Return once a server answers at `url` (any status), or fail after 30 s."""
    import httpx

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def migrate_and_setup(env: dict[str, str]) -> None:
    """Migrate and collect static files for servers started with `env`, then Django in this
    process with the same settings (to create the users and the project)."""
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
        subprocess.run(
            [sys.executable, "manage.py", *command, "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            check=True,
        )
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def logged_in_session(user) -> str:
    """The key of a new session logged in as `user`, for a load generator's cookie."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def console_env(*, database_url: str, phare_api_url: str, redis_url: str = "", **extra: str):
    """The environment of a console a benchmark starts: production settings (DEBUG off) on plain
    HTTP at 127.0.0.1, fixed keys, quiet logs; `extra` adds or overrides settings."""
    return (
        os.environ
        | {
            "DJANGO_SETTINGS_MODULE": "phare_console.settings",
            "DEBUG": "false",
            "HTTPS": "false",
            "SECRET_KEY": "bench-secret-key-bench-secret-key-bench-secret-key",
            "CREDENTIAL_KEYS": "M_WGKnZrF15iNgYIvRUEFaE2wQAX1C0zP-prn-z4r6E=",
            "AUDIT_CHAIN_KEY": "bench-audit-chain-key-bench-audit-chain-key",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "PHARE_API_URL": phare_api_url,
            "LOG_LEVEL": "WARNING",
        }
        | extra
    )


def start_console(port: int, env: dict[str, str], *, workers: int = 1, threads: int = 4):
    """The console under gunicorn on 127.0.0.1:`port` with `env`, once it answers."""
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "phare_console.wsgi:application"]
        + ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads)]
        + ["--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    wait_until_up(f"http://127.0.0.1:{port}/healthz")
    return process


def run_legs(
    script: str,
    folder: str,
    postgres_url: str,
    redis_url: str,
    *,
    extra_args: tuple[str, ...] = (),
    sqlite_only: bool = False,
) -> list[tuple[str, dict]]:
    """Run `script --leg DATABASE_URL REDIS_URL` in a process of its own (settings are global)
    on SQLite (a file in `folder`) and, unless `sqlite_only` or no server answers, on
    PostgreSQL (created afresh) with Redis (emptied). Each leg prints its result as JSON on its
    last line; returns (leg name, result) pairs."""
    import json

    databases = [("SQLite", f"sqlite:///{folder}/{Path(script).stem}.sqlite3", "")]
    if sqlite_only:
        pass
    elif postgres_available(postgres_url):
        ensure_postgres_database(postgres_url, fresh=True)
        import redis

        redis.Redis.from_url(redis_url).flushdb()
        databases.append(("PostgreSQL + Redis", postgres_url, redis_url))
    else:
        print(f"PostgreSQL not available at {postgres_url}: SQLite only", file=sys.stderr)
    legs = []
    for name, database_url, leg_redis_url in databases:
        print(f"{name}…", file=sys.stderr)
        command = [sys.executable, script, "--leg", database_url, leg_redis_url, *extra_args]
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
        legs.append((name, json.loads(output.strip().splitlines()[-1])))
    return legs
