import time

from django.core.management.base import BaseCommand, CommandError

from incidents import audit_chain
from incidents.models import AuditEntry


class Command(BaseCommand):
    help = (
        "Walk the audit log's HMAC chain and report the first entry that does not match its "
        "content or its place in the chain (exit code 1), or that it holds. With --anchor (a "
        "line printed by audit_head and kept outside the database), also report entries up to "
        "the anchor that were removed or written again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--anchor",
            metavar="LINE",
            help="a line printed earlier by `manage.py audit_head`",
        )

    def handle(self, *args, anchor=None, **options):
        parsed = None
        if anchor is not None:
            try:
                parsed = audit_chain.parse_anchor(anchor)
            except audit_chain.AnchorError as error:
                raise CommandError(str(error)) from None
        started = time.monotonic()
        report = audit_chain.check(parsed)
        seconds = time.monotonic() - started
        if report.problem is not None:
            raise CommandError(self._describe(report.problem))
        message = (
            f"The audit log's chain holds: {report.count:,} entries checked in {seconds:.1f} s."
        )
        if parsed is not None:
            message += (
                f" It matches the anchor (entry {parsed.entry_id}, {parsed.count:,} entries)."
            )
        self.stdout.write(message)

    def _describe(self, problem: audit_chain.ChainProblem) -> str:
        if problem.entry_id is None:
            return problem.reason
        entry = (
            AuditEntry.objects.filter(pk=problem.entry_id).values("created_at", "action").first()
        )
        where = (
            f" ({entry['action']}, {entry['created_at']:%Y-%m-%d %H:%M:%S} UTC)" if entry else ""
        )
        return f"Audit entry {problem.entry_id}{where} {problem.reason}"
