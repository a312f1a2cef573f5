"""The audit chain keyed with AUDIT_CHAIN_KEY (HMAC-SHA256) instead of a plain SHA-256, and a
PostgreSQL trigger refusing TRUNCATE on the audit table (0003's trigger refuses UPDATE and
DELETE, which TRUNCATE does not fire).

Entries written before this migration are signed again with the first key, but only as far as
their plain chain holds: from the first entry it does not vouch for, entries keep their plain
hashes, which verification never accepts, so verify_audit_log keeps naming that entry.
"""

from django.db import migrations

from incidents.audit_chain import GENESIS, HASHED_FIELDS, chain_keys, entry_hash, entry_mac

TABLE = "incidents_auditentry"
BATCH = 2000

# Superusers are let through: they bypass every trigger anyway (session_replication_role,
# ALTER TABLE ... DISABLE TRIGGER), and Django's test runner empties tables with TRUNCATE.
TRUNCATE_TRIGGER = """
CREATE OR REPLACE FUNCTION incidents_auditentry_no_truncate() RETURNS trigger AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: TRUNCATE refused'
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incidents_auditentry_no_truncate
    BEFORE TRUNCATE ON incidents_auditentry
    FOR EACH STATEMENT EXECUTE FUNCTION incidents_auditentry_no_truncate();
"""
DROP_TRUNCATE_TRIGGER = """
DROP TRIGGER IF EXISTS incidents_auditentry_no_truncate ON incidents_auditentry;
DROP FUNCTION IF EXISTS incidents_auditentry_no_truncate();
"""


def postgresql_only(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # no placeholders: '%' is plpgsql's

    return run


def rechain(apps, schema_editor, *, holds, link):
    """Write every entry's link again with `link(values, previous)` as long as the chain holds
    by `holds(row, previous)`; stop at the first entry it does not, leaving the rest as they
    are (0003's trigger is off meanwhile: the migration role owns the table)."""
    AuditEntry = apps.get_model("incidents", "AuditEntry")
    if not AuditEntry.objects.exists():
        return
    postgresql = schema_editor.connection.vendor == "postgresql"
    if postgresql:
        schema_editor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER incidents_auditentry_append_only")
    old_previous = new_previous = GENESIS
    last_id = 0
    stopped_at = None
    while stopped_at is None:
        rows = list(
            AuditEntry.objects.filter(id__gt=last_id)
            .order_by("id")
            .values("id", "previous_hash", "entry_hash", *HASHED_FIELDS)[:BATCH]
        )
        if not rows:
            break
        changed = []
        for row in rows:
            if row["previous_hash"] != old_previous or not holds(row, old_previous):
                stopped_at = row["id"]
                break
            old_previous = row["entry_hash"]
            mac = link(row, new_previous)
            changed.append(AuditEntry(id=row["id"], previous_hash=new_previous, entry_hash=mac))
            new_previous = mac
        AuditEntry.objects.bulk_update(changed, ["previous_hash", "entry_hash"])
        last_id = rows[-1]["id"]
    if postgresql:
        schema_editor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER incidents_auditentry_append_only")
    if stopped_at is not None:
        print(
            f"\n  Audit entry {stopped_at} does not match the chain it was written in; it and the "
            "entries after it were not signed again, and verify_audit_log reports it."
        )


def sign_with_key(apps, schema_editor):
    key = chain_keys()[0]
    rechain(
        apps,
        schema_editor,
        holds=lambda row, previous: entry_hash(row, previous) == row["entry_hash"],
        link=lambda values, previous: entry_mac(values, previous, key),
    )


def back_to_plain_hashes(apps, schema_editor):
    keys = chain_keys()
    rechain(
        apps,
        schema_editor,
        holds=lambda row, previous: any(
            entry_mac(row, previous, key) == row["entry_hash"] for key in keys
        ),
        link=entry_hash,
    )


class Migration(migrations.Migration):
    dependencies = [("incidents", "0006_audit_actions_for_projects_and_members")]

    operations = [
        migrations.RunPython(sign_with_key, back_to_plain_hashes),
        migrations.RunPython(
            postgresql_only(TRUNCATE_TRIGGER), postgresql_only(DROP_TRUNCATE_TRIGGER)
        ),
    ]
