import os

from django.core.management.base import BaseCommand, CommandError
from django.views.decorators.debug import sensitive_variables

from incidents import services


class Command(BaseCommand):
    help = (
        "Create or update a Phare project with its API token, read from an environment "
        "variable so it never appears in the shell history or the process list."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True, help="Project name shown in the console.")
        parser.add_argument(
            "--token-env",
            required=True,
            metavar="VAR",
            help="Name of the environment variable that holds the Phare API token.",
        )
        parser.add_argument("--phare-project-id", help="Phare's numeric project id.")
        parser.add_argument("--phare-project-slug", default="", help="Phare's project slug.")
        parser.add_argument(
            "--organization",
            default="",
            help="Phare organization name: its projects share Phare's limit of 100 calls a minute.",
        )
        parser.add_argument(
            "--organization-key",
            action="store_true",
            help="The token is organization-scoped: send the project header on every call.",
        )

    @sensitive_variables()
    def handle(
        self,
        *args,
        name,
        token_env,
        phare_project_id,
        phare_project_slug,
        organization,
        organization_key,
        **options,
    ):
        token = os.environ.get(token_env, "").strip()
        if not token:
            raise CommandError(f"Environment variable {token_env} is not set or empty.")
        project_id = None
        if phare_project_id is not None:
            if not (
                phare_project_id.isascii()
                and phare_project_id.isdigit()
                and 0 < int(phare_project_id) < 2**63
            ):
                raise CommandError(
                    f"--phare-project-id must be a positive whole number, not {phare_project_id!r}."
                )
            project_id = int(phare_project_id)
        try:
            project, created = services.project_provision(
                name=name,
                token=token,
                phare_project_id=project_id,
                phare_project_slug=phare_project_slug,
                organization=organization,
                organization_key=organization_key,
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        scope = "an organization-scoped" if project.organization_key else "a project-scoped"
        self.stdout.write(
            f"{'Created' if created else 'Updated'} project {project.name} ({project.slug}) "
            f"with {scope} token ending {project.token_last4}."
        )
