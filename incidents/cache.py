"""Django's Redis cache, made optional: when Redis is down, reads miss and writes are skipped
(with a warning) instead of failing the request. Sessions (cached_db) then come from the
database, and nobody is logged out or shown an error page."""

import logging

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


def _tolerant(method_name: str, fallback):
    method = getattr(RedisCache, method_name)

    def tolerant(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except RedisError as error:
            logger.warning(
                "Redis unavailable (%s): cache %s skipped", type(error).__name__, method_name
            )
            return fallback(*args, **kwargs)

    tolerant.__name__ = method_name
    return tolerant


def _default(key, default=None, *args, **kwargs):
    return default


class TolerantRedisCache(RedisCache):
    get = _tolerant("get", _default)
    get_many = _tolerant("get_many", lambda keys, *args, **kwargs: {})
    has_key = _tolerant("has_key", lambda *args, **kwargs: False)
    set = _tolerant("set", lambda *args, **kwargs: None)
    add = _tolerant("add", lambda *args, **kwargs: False)
    touch = _tolerant("touch", lambda *args, **kwargs: False)
    set_many = _tolerant("set_many", lambda data, *args, **kwargs: list(data))
    delete = _tolerant("delete", lambda *args, **kwargs: False)
    delete_many = _tolerant("delete_many", lambda *args, **kwargs: None)
