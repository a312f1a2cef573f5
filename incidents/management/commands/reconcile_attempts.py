from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from incidents import services
from incidents.models import IncidentAttempt
from incidents.phare import PhareError


class Command(BaseCommand):
    help = (
        "Settle the attempts whose outcome is unknown (Phare did not answer in time): each "
        "becomes created when Phare has the incident, or failed (safe to send again) when not. "
        "Nothing is sent to Phare but reads. Safe to run from cron."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=60,
            metavar="SECONDS",
            help="Only attempts at least this old (default 60), so Phare has settled.",
        )

    def handle(self, *args, older_than, **options):
        cutoff = timezone.now() - timedelta(seconds=older_than)
        attempts = IncidentAttempt.objects.filter(
            kind=IncidentAttempt.Kind.CREATE,
            state=IncidentAttempt.State.UNKNOWN,
            updated_at__lte=cutoff,
        ).select_related("project")
        failures = 0
        for attempt in attempts:
            label = f"{attempt.project.slug}: “{attempt.title}” (attempt {attempt.pk})"
            try:
                incident = services.attempt_reconcile(actor=None, attempt=attempt)
            except PhareError as error:
                failures += 1
                self.stderr.write(f"{label}: still unknown, {error.message}")
                continue
            if incident is not None:
                self.stdout.write(f"{label}: created in Phare as {incident.slug or incident.id}.")
            else:
                attempt.refresh_from_db()
                self.stdout.write(f"{label}: {attempt.get_state_display().lower()}.")
        if failures:
            raise CommandError(f"{failures} attempt(s) could not be checked.")
