"""On SQLite, a trigram full-text index over audit titles and Phare slugs (FTS5), kept by
triggers, so that free-text search does not read every entry. PostgreSQL has its pg_trgm
indexes (0003)."""

from django.db import migrations

CREATE = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS incidents_auditentry_text USING fts5(
        title, phare_incident_slug,
        content='incidents_auditentry', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER IF NOT EXISTS incidents_auditentry_text_insert
        AFTER INSERT ON incidents_auditentry BEGIN
        INSERT INTO incidents_auditentry_text(rowid, title, phare_incident_slug)
        VALUES (new.id, new.title, new.phare_incident_slug);
    END""",
    # Entries are never deleted by the console; a flush in tests or by hand stays consistent.
    """CREATE TRIGGER IF NOT EXISTS incidents_auditentry_text_delete
        AFTER DELETE ON incidents_auditentry BEGIN
        INSERT INTO incidents_auditentry_text(incidents_auditentry_text, rowid, title,
            phare_incident_slug)
        VALUES ('delete', old.id, old.title, old.phare_incident_slug);
    END""",
    "INSERT INTO incidents_auditentry_text(incidents_auditentry_text) VALUES ('rebuild')",
]
DROP = [
    "DROP TRIGGER IF EXISTS incidents_auditentry_text_insert",
    "DROP TRIGGER IF EXISTS incidents_auditentry_text_delete",
    "DROP TABLE IF EXISTS incidents_auditentry_text",
]


def sqlite_only(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("incidents", "0003_audit_chain_and_search")]

    operations = [migrations.RunPython(sqlite_only(CREATE), sqlite_only(DROP))]
