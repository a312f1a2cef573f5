"""The audit log is append-only (model and PostgreSQL trigger) and tamper-evident (hash chain)."""

import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from incidents import audit_chain, services
from incidents.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("root")


@pytest.fixture
def entries(project, admin):
    """The fixture's entry (the token set at provisioning), then the token set three times."""
    for _ in range(3):
        services.project_set_token(actor=admin, project=project, token="pha_rotated_1234")
    return list(AuditEntry.objects.order_by("id"))


def test_the_model_refuses_changes(entries):
    entry = entries[0]
    entry.error = "edited"
    with pytest.raises(TypeError, match="append-only"):
        entry.save()
    with pytest.raises(TypeError, match="append-only"):
        entry.delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEntry.objects.filter(pk=entry.pk).update(error="edited")
    with pytest.raises(TypeError, match="append-only"):
        AuditEntry.objects.filter(pk=entry.pk).delete()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger is PostgreSQL's")
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE incidents_auditentry SET error = 'edited' WHERE id = %s",
        "DELETE FROM incidents_auditentry WHERE id = %s",
    ],
)
def test_postgresql_refuses_raw_update_and_delete(entries, sql):
    with (
        pytest.raises(DatabaseError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [entries[0].pk])


def test_each_entry_is_chained_to_the_one_before(project, entries):
    assert entries[0].previous_hash == audit_chain.GENESIS
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.previous_hash == before.entry_hash
    out = StringIO()
    call_command("verify_audit_log", stdout=out)
    assert f"chain holds: {len(entries)} entries" in out.getvalue()


def tamper(sql: str, params: list) -> None:
    """Change the table behind the console's back (on PostgreSQL, as a superuser who turns the
    session's triggers off)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


@pytest.mark.parametrize(
    ("sql", "named"),
    [
        ("UPDATE incidents_auditentry SET actor_username = 'mallory' WHERE id = %s", 1),
        (
            "UPDATE incidents_auditentry SET created_at = created_at - interval '1 day' "
            "WHERE id = %s",
            1,
        ),
        ("DELETE FROM incidents_auditentry WHERE id = %s", 2),  # the next one breaks
    ],
)
def test_a_change_behind_the_apps_back_names_the_entry(entries, sql, named):
    if "interval" in sql and connection.vendor == "sqlite":
        sql = "UPDATE incidents_auditentry SET created_at = '2020-01-01 00:00:00' WHERE id = %s"
    target = entries[1]
    tamper(sql, [target.pk])
    with pytest.raises(CommandError, match=f"Audit entry {entries[named].pk} "):
        call_command("verify_audit_log")


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain(project, admin):
    def write(number: int) -> None:
        try:
            for _ in range(10):
                services.project_set_token(actor=admin, project=project, token=f"pha_t{number}_x")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert AuditEntry.objects.count() == 61
    assert audit_chain.first_broken_entry() is None
    hashes = list(AuditEntry.objects.values_list("previous_hash", flat=True))
    assert len(set(hashes)) == len(hashes)  # no two entries claim the same predecessor
