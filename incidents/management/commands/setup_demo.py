import logging
import os
import secrets
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from incidents import services
from incidents.context_processors import REAL_PHARE_HOST
from incidents.phare import PhareUnavailable

DEMO_USERNAME = "demo"
DEMO_PROJECT = "Demo project"
RULE = "-" * 78


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo user with a fresh password, printed once. With "
        "--sandbox-token-env, also wire a demo project to the local Phare sandbox; with "
        "--console-url, print everything as the one start-up block of `make run`."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--sandbox-token-env",
            metavar="VAR",
            help="Environment variable holding the sandbox's token; adds the demo project.",
        )
        parser.add_argument(
            "--console-url",
            metavar="URL",
            help="Where the console is served: print the start-up block of `make run` for it.",
        )

    def handle(self, *args, sandbox_token_env, console_url, verbosity, **options):
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        login = f"Log in as {DEMO_USERNAME} with password {password}"
        sandbox_line = None
        if sandbox_token_env:
            # The sync's own log lines (each call to Phare) would bury the login: shown only
            # with --verbosity 2 or more.
            if verbosity < 2:
                logging.disable(logging.INFO)
            try:
                monitor_count = self._wire_sandbox_project(sandbox_token_env)
            finally:
                logging.disable(logging.NOTSET)
            sandbox_line = f"{DEMO_PROJECT} uses the Phare sandbox ({monitor_count} monitors)."
        if console_url:
            self.stdout.write(self._start_up_block(console_url, login, sandbox_line))
            return
        if sandbox_line:
            self.stdout.write(sandbox_line)
        self.stdout.write(login)

    def _wire_sandbox_project(self, token_env: str) -> int:
        token = os.environ.get(token_env, "")
        if not token:
            raise CommandError(f"Environment variable {token_env} is not set or empty.")
        project, _ = services.project_provision(name=DEMO_PROJECT, token=token)
        # The sandbox starts beside the console; give it a few seconds to listen.
        for _ in range(50):
            try:
                return services.monitor_sync(actor=None, project=project).total
            except PhareUnavailable:
                time.sleep(0.2)
        raise CommandError("The Phare sandbox did not answer; is it running?")

    def _start_up_block(self, console_url: str, login: str, sandbox_line: str | None) -> str:
        lines = [RULE, f"Phare incident console: {console_url}", login]
        if sandbox_line:
            lines += [
                f"Incidents go to the local Phare sandbox ({settings.PHARE_API_URL}), "
                "not to phare.io.",
                sandbox_line,
            ]
        else:
            real = urlsplit(settings.PHARE_API_URL).netloc == REAL_PHARE_HOST
            where = "Phare" if real else "a Phare sandbox"
            lines += [
                f"Incidents go to {where} at {settings.PHARE_API_URL}.",
                "Add a project with: .venv/bin/python manage.py add_phare_project --help",
            ]
        if note := derived_keys_note():
            lines.append(note)
        lines += ["Stop with Ctrl-C.", RULE]
        return "\n".join(lines)


def derived_keys_note() -> str | None:
    """One calm line when keys derived from SECRET_KEY stand in (DEBUG on, keys not set)."""
    credentials = not [key for key in settings.CREDENTIAL_KEYS if key.strip()]
    audit = not [key for key in settings.AUDIT_CHAIN_KEY if key.strip()]
    if credentials and audit:
        return (
            "Tokens are encrypted, and the audit log signed, with keys derived from SECRET_KEY;\n"
            "set CREDENTIAL_KEYS and AUDIT_CHAIN_KEY in production."
        )
    if credentials:
        return (
            "Tokens are encrypted with a key derived from SECRET_KEY; "
            "set CREDENTIAL_KEYS in production."
        )
    if audit:
        return (
            "The audit log is signed with a key derived from SECRET_KEY; "
            "set AUDIT_CHAIN_KEY in production."
        )
    return None
