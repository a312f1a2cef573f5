"""Settings for the test suite: the real settings with a fixed secret and credential key."""

import os
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")
# A valid Fernet key used only by the tests.
os.environ.setdefault("CREDENTIAL_KEYS", "M_WGKnZrF15iNgYIvRUEFaE2wQAX1C0zP-prn-z4r6E=")
# The audit chain's HMAC key used only by the tests.
os.environ.setdefault("AUDIT_CHAIN_KEY", "test-audit-chain-key-not-for-production-0123")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("HTTPS", "false")  # the test servers speak plain HTTP

from phare_console.settings import *  # noqa: E402,F403

STORAGES["staticfiles"]["BACKEND"] = "django.contrib.staticfiles.storage.StaticFilesStorage"  # noqa: F405
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Serve static files from the finders, as in development: no collectstatic before the tests.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
# Refreshes run inline, so tests in a rolled-back transaction see them; the background
# runner has its own tests.
MONITOR_SYNC_IN_BACKGROUND = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: background refreshes and other processes share it as in production.
    # Named after DATABASE_URL's file, so two suites with different files can run at once.
    database_file = Path(DATABASES["default"]["NAME"]).name  # noqa: F405
    DATABASES["default"]["TEST"] = {"NAME": BASE_DIR / f"test-{database_file}"}  # noqa: F405
