"""The grown-up deployment: Redis backs the cache and the sessions when REDIS_URL is set."""

import os
import secrets

import pytest
from django.conf import settings
from django.contrib.sessions.backends.cached_db import KEY_PREFIX
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.urls import reverse


@pytest.fixture
def redis_required():
    if not settings.REDIS_URL:
        if os.environ.get("REQUIRE_REDIS"):
            pytest.fail("Redis leg required (REQUIRE_REDIS is set) but REDIS_URL is empty")
        pytest.skip("REDIS_URL is not set: this leg runs without Redis")


def test_redis_backs_the_cache(redis_required):
    assert isinstance(caches["default"], RedisCache)
    cache.set("phare-console-test", {"ok": 1}, timeout=5)
    assert cache.get("phare-console-test") == {"ok": 1}
    cache.delete("phare-console-test")


def test_login_session_is_kept_in_redis(redis_required, client, alice):
    response = client.post(reverse("login"), {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 302
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert cache.get(KEY_PREFIX + session_key) is not None


def test_deploy_check_passes_with_production_settings(tmp_path):
    import subprocess
    import sys

    from cryptography.fernet import Fernet
    from django.conf import settings as django_settings

    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "phare_console.settings",
        "DEBUG": "false",
        "SECRET_KEY": Fernet.generate_key().decode() * 2,
        "ALLOWED_HOSTS": "console.example.com",
        "CREDENTIAL_KEYS": Fernet.generate_key().decode(),
        "AUDIT_CHAIN_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=django_settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_answers_carry_the_security_headers(client, settings, db):
    settings.SECURE_HSTS_SECONDS = 31_536_000
    response = client.get("/healthz", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"


def test_healthz_is_not_redirected_to_https(client, settings, db):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 301


@pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3", reason="SQLite only"
)
def test_sqlite_commits_go_to_a_write_ahead_log_flushed_at_each_commit(tmp_path, db):
    """One flush per commit instead of the rollback journal's several, every commit (audit
    entries included) still on disk when it returns."""
    from django.db import connection
    from django.db.backends.sqlite3.base import DatabaseWrapper

    probe = DatabaseWrapper(
        connection.settings_dict | {"NAME": str(tmp_path / "probe.sqlite3")}, alias="probe"
    )
    try:
        with probe.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2  # FULL
    finally:
        probe.close()
