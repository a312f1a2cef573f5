from django.core.management.base import BaseCommand, CommandError

from incidents import services
from incidents.models import PhareProject
from incidents.phare import PhareError


class Command(BaseCommand):
    help = "Refresh the console's copy of each project's Phare monitors (all projects by default)."

    def add_arguments(self, parser):
        parser.add_argument("slugs", nargs="*", metavar="PROJECT_SLUG")

    def handle(self, *args, slugs, **options):
        projects = PhareProject.objects.all()
        if slugs:
            projects = projects.filter(slug__in=slugs)
            missing = set(slugs) - set(projects.values_list("slug", flat=True))
            if missing:
                raise CommandError(f"No such project: {', '.join(sorted(missing))}.")
        failures = 0
        for project in projects:
            try:
                result = services.monitor_sync(actor=None, project=project)
            except services.SyncAlreadyRunning as running:
                self.stdout.write(f"{project.slug}: skipped, {running}")
                continue
            except PhareError as error:
                failures += 1
                self.stderr.write(f"{project.slug}: not refreshed: {error.message}")
                continue
            self.stdout.write(
                f"{project.slug}: {result.total} monitors "
                f"({result.added} new, {result.removed} removed)."
            )
        if failures:
            raise CommandError(f"{failures} project(s) could not be refreshed.")
