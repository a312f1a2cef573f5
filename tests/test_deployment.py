"""The grown-up deployment: Redis backs the cache and the sessions when REDIS_URL is set."""

import os

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
