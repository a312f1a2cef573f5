import os
import secrets
import time

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from incidents import services
from incidents.phare import PhareUnavailable

DEMO_USERNAME = "demo"
DEMO_PROJECT = "Demo project"


class Command(BaseCommand):
    help = (
        "Create (or reset) the demo user with a fresh password, printed once. With "
        "--sandbox-token-env, also wire a demo project to the local Phare sandbox."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--sandbox-token-env",
            metavar="VAR",
            help="Environment variable holding the sandbox's token; adds the demo project.",
        )

    def handle(self, *args, sandbox_token_env, **options):
        password = secrets.token_urlsafe(12)
        user, _ = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        if sandbox_token_env:
            self._wire_sandbox_project(sandbox_token_env)
        self.stdout.write(f"Log in as {DEMO_USERNAME} with password {password}")

    def _wire_sandbox_project(self, token_env: str) -> None:
        token = os.environ.get(token_env, "")
        if not token:
            raise CommandError(f"Environment variable {token_env} is not set or empty.")
        project, _ = services.project_provision(name=DEMO_PROJECT, token=token)
        # The sandbox starts beside the console; give it a few seconds to listen.
        for _ in range(50):
            try:
                result = services.monitor_sync(actor=None, project=project)
                break
            except PhareUnavailable:
                time.sleep(0.2)
        else:
            raise CommandError("The Phare sandbox did not answer; is it running?")
        self.stdout.write(f"{project.name} uses the Phare sandbox ({result.total} monitors).")
