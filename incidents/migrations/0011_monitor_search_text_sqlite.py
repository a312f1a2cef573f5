"""On SQLite, a trigram full-text index over the monitors' search copies (FTS5), kept by
triggers, so that the picker's search for 3 characters or more reads only the candidates
instead of testing `LIKE '%…%'` on every monitor of the project (selectors.monitor_search);
the exact LIKE still decides among them. PostgreSQL has its pg_trgm index (0010).

The update trigger fires only when a search copy changed: a refresh rewrites every monitor,
usually with the same names and targets.

A later migration that makes SQLite copy incidents_monitor into a new table (adding or
altering a column) drops these triggers: it must make them again and rebuild the index, as
0009 does for the audit log's."""

from django.db import migrations

CREATE = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS incidents_monitor_text USING fts5(
        search_name, search_target,
        content='incidents_monitor', content_rowid='id', tokenize='trigram')""",
    """CREATE TRIGGER IF NOT EXISTS incidents_monitor_text_insert
        AFTER INSERT ON incidents_monitor BEGIN
        INSERT INTO incidents_monitor_text(rowid, search_name, search_target)
        VALUES (new.id, new.search_name, new.search_target);
    END""",
    """CREATE TRIGGER IF NOT EXISTS incidents_monitor_text_update
        AFTER UPDATE OF search_name, search_target ON incidents_monitor
        WHEN old.search_name IS NOT new.search_name
            OR old.search_target IS NOT new.search_target BEGIN
        INSERT INTO incidents_monitor_text(incidents_monitor_text, rowid, search_name,
            search_target)
        VALUES ('delete', old.id, old.search_name, old.search_target);
        INSERT INTO incidents_monitor_text(rowid, search_name, search_target)
        VALUES (new.id, new.search_name, new.search_target);
    END""",
    """CREATE TRIGGER IF NOT EXISTS incidents_monitor_text_delete
        AFTER DELETE ON incidents_monitor BEGIN
        INSERT INTO incidents_monitor_text(incidents_monitor_text, rowid, search_name,
            search_target)
        VALUES ('delete', old.id, old.search_name, old.search_target);
    END""",
    "INSERT INTO incidents_monitor_text(incidents_monitor_text) VALUES ('rebuild')",
]
DROP = [
    "DROP TRIGGER IF EXISTS incidents_monitor_text_insert",
    "DROP TRIGGER IF EXISTS incidents_monitor_text_update",
    "DROP TRIGGER IF EXISTS incidents_monitor_text_delete",
    "DROP TABLE IF EXISTS incidents_monitor_text",
]


def sqlite_only(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "sqlite":
            for statement in statements:
                schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("incidents", "0010_monitor_search_index")]

    operations = [migrations.RunPython(sqlite_only(CREATE), sqlite_only(DROP))]
