"""A trigram index for the monitor picker's search on PostgreSQL.

The search tests `search_name LIKE '%…%' OR search_target LIKE '%…%'` (lower-cased copies, so
no function per row): pg_trgm's GIN operator class answers both halves of that OR for 3
characters or more, instead of reading every monitor of the project. SQLite has no such index
and scans (a few milliseconds at 10,000 monitors); where pg_trgm cannot be created, PostgreSQL
scans too.

`fastupdate = off`: a refresh rewrites every monitor of the project, and with GIN's pending
list on, each search after it would read that list until the next vacuum (searches about
twice as slow at 10,000 monitors); off, the refresh writes the index itself, a few seconds
more in a background job."""

from django.db import migrations, transaction

INDEX = """
CREATE INDEX IF NOT EXISTS monitor_search_trgm
    ON incidents_monitor USING gin (search_name gin_trgm_ops, search_target gin_trgm_ops)
    WITH (fastupdate = off)
"""


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic():
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except Exception as error:  # noqa: BLE001
        print(f"\n  pg_trgm not available ({error}); the monitor search scans instead.")
        return
    schema_editor.execute(INDEX)


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS monitor_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0009_incident_templates")]

    operations = [migrations.RunPython(create_index, drop_index)]
