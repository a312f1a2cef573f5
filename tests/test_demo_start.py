"""`make run`'s start-up: setup_demo --console-url prints one block (address, a working demo
login, where incidents go, the derived keys said once and calmly), and a local demo's
processes do not each log the derived-key notices; against the real Phare, or with DEBUG off,
nothing is hidden."""

import logging
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import call_command
from django.urls import reverse

pytestmark = pytest.mark.django_db

CONSOLE_URL = "http://127.0.0.1:8000"


def setup_demo(*args: str) -> str:
    out = StringIO()
    call_command("setup_demo", "--console-url", CONSOLE_URL, *args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_the_block_holds_the_address_a_working_login_and_where_incidents_go(
    monkeypatch, sandbox, client
):
    monkeypatch.setenv("DEMO_SANDBOX_TOKEN", "pha_test_sandbox_token_1234")
    output = setup_demo("--sandbox-token-env", "DEMO_SANDBOX_TOKEN")
    lines = output.strip().splitlines()
    assert lines[0] == lines[-1] == "-" * 78  # one block, nothing before or after it
    assert lines[1] == f"Phare incident console: {CONSOLE_URL}"
    assert lines[2].startswith("Log in as demo with password ")
    password = lines[2].removeprefix("Log in as demo with password ")
    response = client.post(reverse("login"), {"username": "demo", "password": password})
    assert response.status_code == 302
    assert f"Incidents go to the local Phare sandbox ({sandbox.url}), not to phare.io." in lines
    assert "Demo project uses the Phare sandbox (36 monitors)." in lines
    assert lines[-2] == "Stop with Ctrl-C."
    assert "pha_test_sandbox_token" not in output
    assert "SECRET_KEY" not in output  # the keys are set here


def test_the_block_says_once_that_keys_derived_from_the_secret_key_stand_in(settings):
    settings.CREDENTIAL_KEYS, settings.AUDIT_CHAIN_KEY = [], []
    output = setup_demo()
    assert output.count("derived from SECRET_KEY") == 1
    assert (
        "Tokens are encrypted, and the audit log signed, with keys derived from SECRET_KEY;\n"
        "set CREDENTIAL_KEYS and AUDIT_CHAIN_KEY in production." in output
    )


def test_the_block_names_only_the_key_that_is_missing(settings):
    settings.CREDENTIAL_KEYS = []
    settings.AUDIT_CHAIN_KEY = ["k" * 32]
    output = setup_demo()
    assert (
        "Tokens are encrypted with a key derived from SECRET_KEY; set CREDENTIAL_KEYS in "
        "production." in output
    )
    assert "AUDIT_CHAIN_KEY" not in output
    settings.CREDENTIAL_KEYS = ["unused-here"]
    assert "SECRET_KEY" not in setup_demo()


def test_without_the_sandbox_the_block_says_incidents_go_to_phare(settings):
    settings.PHARE_API_URL = "https://api.phare.io"
    output = setup_demo()
    assert "Incidents go to Phare at https://api.phare.io." in output
    assert "sandbox" not in output


def test_the_sync_logs_only_with_a_higher_verbosity(monkeypatch, sandbox, caplog):
    monkeypatch.setenv("DEMO_SANDBOX_TOKEN", "pha_test_sandbox_token_1234")
    caplog.set_level(logging.INFO)
    setup_demo("--sandbox-token-env", "DEMO_SANDBOX_TOKEN")
    assert not [record for record in caplog.records if record.levelno < logging.WARNING]
    setup_demo("--sandbox-token-env", "DEMO_SANDBOX_TOKEN", "--verbosity", "2")
    assert "synced 36 monitors" in caplog.text
    # Logging is back to normal afterwards.
    assert logging.root.manager.disable == logging.NOTSET


def start_up_output(tmp_path, **environment: str) -> subprocess.CompletedProcess:
    """`manage.py check` in a fresh process, without any key set."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "phare_console.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'start.sqlite3'}",
        "CREDENTIAL_KEYS": "",
        "AUDIT_CHAIN_KEY": "",
        **environment,
    }
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "manage.py", "check"],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )


def test_a_local_demo_starts_without_the_derived_key_notices(tmp_path):
    result = start_up_output(tmp_path, DEBUG="true", PHARE_API_URL="http://127.0.0.1:8001")
    assert result.returncode == 0, result.stderr
    assert "is not set" not in result.stdout + result.stderr


def test_against_the_real_phare_the_notices_stay(tmp_path):
    result = start_up_output(tmp_path, DEBUG="true", PHARE_API_URL="https://api.phare.io")
    assert result.returncode == 0, result.stderr
    assert "CREDENTIAL_KEYS is not set: Phare tokens are encrypted" in result.stderr
    assert "AUDIT_CHAIN_KEY is not set: the audit log is signed" in result.stderr


def test_with_debug_off_a_missing_key_still_stops_start_up(tmp_path):
    result = start_up_output(
        tmp_path, DEBUG="false", SECRET_KEY="s" * 50, PHARE_API_URL="http://127.0.0.1:8001"
    )
    assert result.returncode != 0
    assert "CREDENTIAL_KEYS is not set. Generate a key with" in result.stderr
