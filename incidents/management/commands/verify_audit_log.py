import time

from django.core.management.base import BaseCommand, CommandError

from incidents import audit_chain
from incidents.models import AuditEntry


class Command(BaseCommand):
    help = (
        "Walk the audit log's hash chain and report the first entry that does not match its "
        "content or its place in the chain (exit code 1), or that it holds."
    )

    def handle(self, *args, **options):
        started = time.monotonic()
        broken = audit_chain.first_broken_entry()
        seconds = time.monotonic() - started
        if broken is not None:
            entry = AuditEntry.objects.filter(pk=broken).values("created_at", "action").first()
            where = (
                f" ({entry['action']}, {entry['created_at']:%Y-%m-%d %H:%M:%S} UTC)"
                if entry
                else ""
            )
            raise CommandError(
                f"Audit entry {broken}{where} does not match the chain: it, or the entry before "
                "it, was changed, removed or inserted outside the console."
            )
        count = AuditEntry.objects.count()
        self.stdout.write(
            f"The audit log's chain holds: {count:,} entries checked in {seconds:.1f} s."
        )
