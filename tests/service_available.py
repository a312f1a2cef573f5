"""Exit 0 when the named service answers (used by `make test` to run or skip a leg).

python tests/service_available.py postgres postgres://postgres@127.0.0.1:5432/x
python tests/service_available.py redis redis://127.0.0.1:6379/1
"""

import sys

import environ


def postgres_answers(url: str) -> None:
    import psycopg

    config = environ.Env.db_url_config(url)
    # The maintenance database: the test database does not exist yet.
    psycopg.connect(
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        dbname="postgres",
        connect_timeout=3,
    ).close()


def redis_answers(url: str) -> None:
    import redis

    redis.Redis.from_url(url, socket_connect_timeout=3).ping()


if __name__ == "__main__":
    service, url = sys.argv[1], sys.argv[2]
    try:
        {"postgres": postgres_answers, "redis": redis_answers}[service](url)
    except Exception as error:  # any failure means: not available, and say why
        print(f"{service} not available at {url}: {error}".strip(), file=sys.stderr)
        sys.exit(1)
