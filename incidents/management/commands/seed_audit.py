import random
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone

from incidents import audit_chain
from incidents.models import AuditEntry, Impact, PhareProject

TITLES = [
    "Checkout returns 502", "Search is slow", "Login fails for SSO users", "API latency above 2 s",
    "Payments declined in EU", "Status page unreachable", "Webhooks delayed", "Database failover",
    "CDN errors in APAC", "Mobile app cannot sync", "Email delivery delayed", "DNS errors",
]  # fmt: skip
ACTORS = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy"]
FINISHED = [  # outcome of Phare's answer, and how often
    (AuditEntry.Outcome.CREATED, 80),
    (AuditEntry.Outcome.REJECTED, 10),
    (AuditEntry.Outcome.FAILED, 7),
    (AuditEntry.Outcome.UNKNOWN, 3),
]


class Command(BaseCommand):
    help = (
        "Fill the audit log with realistic entries (incident creates, answers and token "
        "changes spread over the past days), in bulk, signed into the HMAC chain. For benchmarks "
        "and demos."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, required=True, help="how many entries")
        parser.add_argument("--days", type=int, default=365, help="spread over this many days")
        parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same log)")

    def handle(self, *args, count, days, seed, **options):
        if count < 1 or days < 1:
            raise CommandError("--count and --days must be at least 1.")
        projects = list(PhareProject.objects.order_by("id"))
        if not projects:
            projects = [PhareProject.objects.create(name="Seeded project", slug="seeded-project")]
        actor_ids = dict(
            get_user_model().objects.filter(username__in=ACTORS).values_list("username", "id")
        )
        started = time.monotonic()
        written = audit_chain.append_many(
            self._entries(count, days, projects, actor_ids, random.Random(seed))
        )
        with connection.cursor() as cursor:  # fresh statistics after a bulk load
            cursor.execute(f"ANALYZE {AuditEntry._meta.db_table}")
        seconds = time.monotonic() - started
        self.stdout.write(f"{written:,} audit entries written in {seconds:.1f} s.")

    def _entries(self, count, days, projects, actor_ids, rng):
        end = timezone.now()
        step = timedelta(days=days) / count
        moment = end - timedelta(days=days)
        impacts = [impact for impact in Impact.values]
        incident_number = 0
        for index in range(count):
            moment += step
            project = projects[index % len(projects)]
            actor = rng.choice(ACTORS)
            if rng.random() < 0.01:
                yield AuditEntry(
                    created_at=moment,
                    actor_id=actor_ids.get(actor),
                    actor_username=actor,
                    project=project,
                    action=rng.choice(
                        [AuditEntry.Action.CREDENTIAL_SET, AuditEntry.Action.CREDENTIAL_CLEARED]
                    ),
                    outcome=AuditEntry.Outcome.RECORDED,
                )
                continue
            title = f"{rng.choice(TITLES)} #{index}"
            payload = {
                "impact": rng.choice(impacts),
                "title": title,
                "exclude_from_downtime": False,
                "monitors": sorted(rng.sample(range(1, 200), rng.randint(1, 3))),
            }
            entry = AuditEntry(
                created_at=moment,
                actor_id=actor_ids.get(actor),
                actor_username=actor,
                project=project,
                title=title,
                payload=payload,
            )
            if index % 2 == 0:
                entry.action, entry.outcome = (
                    AuditEntry.Action.INCIDENT_CREATE_STARTED,
                    AuditEntry.Outcome.PENDING,
                )
            else:
                entry.action = AuditEntry.Action.INCIDENT_CREATE_FINISHED
                entry.outcome = rng.choices(*zip(*FINISHED, strict=True))[0]
                entry.duration_ms = rng.randint(40, 900)
                if entry.outcome == AuditEntry.Outcome.CREATED:
                    incident_number += 1
                    entry.http_status = 201
                    entry.phare_incident_id = incident_number
                    entry.phare_incident_slug = f"INC-{incident_number}"
                    entry.response_body = {"id": incident_number, "slug": entry.phare_incident_slug,
                                           "status": "ongoing", "title": title}  # fmt: skip
                elif entry.outcome == AuditEntry.Outcome.REJECTED:
                    entry.http_status = 422
                    entry.response_body = {"message": "The selected monitors.0 is invalid."}
                    entry.error = "The selected monitors.0 is invalid."
                elif entry.outcome == AuditEntry.Outcome.FAILED:
                    entry.http_status = 503
                    entry.error = "Phare is having trouble (503). Try again in a moment."
                else:
                    entry.error = "Phare did not answer in time."
            yield entry
