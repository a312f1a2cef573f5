"""Exit 0 when the PostgreSQL server in DATABASE_URL accepts connections (make test-postgres)."""

import os
import sys

import environ
import psycopg

config = environ.Env.db_url_config(os.environ["DATABASE_URL"])
try:
    # Connect to the maintenance database: the test database does not exist yet.
    psycopg.connect(
        host=config["HOST"] or None,
        port=config["PORT"] or None,
        user=config["USER"] or None,
        password=config["PASSWORD"] or None,
        dbname="postgres",
        connect_timeout=3,
    ).close()
except psycopg.Error as error:
    print(f"PostgreSQL not available: {error}".strip(), file=sys.stderr)
    sys.exit(1)
