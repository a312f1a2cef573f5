from django.core.management.base import BaseCommand

from incidents import audit_chain


class Command(BaseCommand):
    help = (
        "Print the audit log's newest entry (id, how many entries up to it, its MAC) as one "
        "line signed with AUDIT_CHAIN_KEY, for cron to ship to a log system outside the "
        "database. `verify_audit_log --anchor LINE` later proves that no entry up to it was "
        "changed or removed."
    )

    def handle(self, *args, **options):
        self.stdout.write(audit_chain.current_anchor().signed_line())
