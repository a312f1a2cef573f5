"""The audit log is append-only (model and PostgreSQL triggers) and tamper-evident: an HMAC
chain keyed with AUDIT_CHAIN_KEY, and anchors (audit_head) kept outside the database."""

import hashlib
import hmac
import json
import threading
import uuid
from io import StringIO

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, connections, transaction

from incidents import audit_chain, services
from incidents.models import AuditEntry, PhareProject

pytestmark = pytest.mark.django_db

TEST_KEY = "test-audit-chain-key-not-for-production-0123"  # phare_console.test_settings
NEW_KEY = "a-newer-audit-chain-key-after-rotation-4567"
MALLORYS_KEY = "mallory-does-not-hold-the-real-key-89abcdef"


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_superuser("root")


@pytest.fixture
def entries(project, admin):
    """The fixture's entries (its provisioning), then the token set four times."""
    for _ in range(4):
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


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the triggers and roles are PostgreSQL's"
)


@postgresql_only
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


def as_role(cursor, *grants: str) -> None:
    """Switch this transaction to a new role without superuser rights, given `grants` (all
    rolled back with the test's transaction)."""
    role = f"phare_test_{uuid.uuid4().hex[:12]}"
    cursor.execute(f"CREATE ROLE {role} NOLOGIN")
    for grant in grants:
        cursor.execute(f"GRANT {grant} TO {role}")
    cursor.execute(f"SET LOCAL ROLE {role}")


@postgresql_only
def test_postgresql_refuses_truncate(entries):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending foreign key checks
        as_role(cursor, "SELECT, TRUNCATE ON incidents_auditentry")
        with (
            pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"),
            transaction.atomic(),
        ):
            cursor.execute("TRUNCATE incidents_auditentry")
        cursor.execute("RESET ROLE")
    assert AuditEntry.objects.count() == len(entries)


@postgresql_only
def test_the_runtime_role_of_the_readme_appends_and_verifies_but_cannot_remove(project, entries):
    """README, "Two database roles": the runtime role may only INSERT and SELECT the table."""
    with transaction.atomic(), connection.cursor() as cursor:
        as_role(cursor, "SELECT, INSERT ON incidents_auditentry")
        audit_chain.append(
            AuditEntry(project=project, action="credential.cleared", outcome="recorded")
        )
        call_command("verify_audit_log", anchor=head(), stdout=StringIO())  # cron's commands
        for sql in [
            "UPDATE incidents_auditentry SET error = 'edited'",
            "DELETE FROM incidents_auditentry",
            "TRUNCATE incidents_auditentry",
            "ALTER TABLE incidents_auditentry DISABLE TRIGGER incidents_auditentry_append_only",
        ]:
            with (
                pytest.raises(DatabaseError, match="permission denied|must be owner"),
                transaction.atomic(),
            ):
                cursor.execute(sql)
        cursor.execute("RESET ROLE")


def test_each_entry_is_chained_to_the_one_before(project, entries):
    assert entries[0].previous_hash == audit_chain.GENESIS
    for before, after in zip(entries, entries[1:], strict=False):
        assert after.previous_hash == before.entry_hash
    out = StringIO()
    call_command("verify_audit_log", stdout=out)
    assert f"chain holds: {len(entries)} entries" in out.getvalue()


def test_each_link_is_an_hmac_with_the_first_key(entries):
    """Not a plain hash anyone could compute again: the key is not in the database."""
    for entry in entries:
        values = {name: getattr(entry, name) for name in audit_chain.HASHED_FIELDS}
        assert entry.entry_hash == forged_mac(values, entry.previous_hash, TEST_KEY)
        assert entry.entry_hash != audit_chain.entry_hash(values, entry.previous_hash)


def tamper(sql: str, params: list) -> None:
    """Change the table behind the console's back (on PostgreSQL, as a superuser who turns the
    session's triggers off)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(sql, params)
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")


def forged_mac(values: dict, previous_hash: str, key: str) -> str:
    """An HMAC over an entry as the console computes it, with any key (the attacker's)."""
    content = {name: audit_chain._canonical(values[name]) for name in audit_chain.HASHED_FIELDS}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hmac.new(key.encode(), f"{previous_hash}\n{text}".encode(), hashlib.sha256).hexdigest()


def write_again(
    kept: list[AuditEntry], *, link=None, link_from: int = 0, keep_ids: bool = True
) -> None:
    """Behind the console's back: delete every entry, then insert `kept` again, as they are or,
    from kept[link_from] on, chained anew with `link(values, previous)`: what someone with
    write access to the database (but not the chain key) can do."""
    tamper("DELETE FROM incidents_auditentry", [])
    previous = audit_chain.GENESIS
    copies = []
    for position, entry in enumerate(kept):
        copy = AuditEntry(
            **{field.attname: getattr(entry, field.attname) for field in entry._meta.fields}
        )
        if not keep_ids:
            copy.pk = None
        if link is not None and position >= link_from:
            values = {name: getattr(copy, name) for name in audit_chain.HASHED_FIELDS}
            copy.previous_hash = previous
            copy.entry_hash = link(values, previous)
        previous = copy.entry_hash
        copies.append(copy)
    AuditEntry.objects.bulk_create(copies)


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


def test_rewriting_entries_and_hashing_them_again_without_the_key_is_detected(entries):
    """Someone with write access changes an entry and computes every link after it again,
    with the plain hash of old or with an HMAC under a key of their own."""
    entries[1].actor_username = "mallory"
    attempts = {
        "plain SHA-256": audit_chain.entry_hash,
        "HMAC, wrong key": lambda values, previous: forged_mac(values, previous, MALLORYS_KEY),
    }
    for attempt, link in attempts.items():
        write_again(entries, link=link, link_from=1)
        assert audit_chain.first_broken_entry() == entries[1].pk, attempt
        with pytest.raises(CommandError, match=f"Audit entry {entries[1].pk} "):
            call_command("verify_audit_log")


def test_truncating_and_writing_the_log_again_without_an_entry_is_detected(entries):
    """The table emptied (on SQLite by a plain DELETE; PostgreSQL's trigger refuses TRUNCATE,
    see above) and every entry but one written again, re-chained without the key."""
    kept = entries[:2] + entries[3:]
    write_again(kept, link=audit_chain.entry_hash, link_from=2)
    with pytest.raises(CommandError, match=f"Audit entry {entries[3].pk} "):
        call_command("verify_audit_log")

    write_again(kept)  # the entries as they were: the one after the gap breaks the chain
    with pytest.raises(CommandError, match=f"Audit entry {entries[3].pk} "):
        call_command("verify_audit_log")


def head() -> str:
    out = StringIO()
    call_command("audit_head", stdout=out)
    return out.getvalue().strip()


def test_audit_head_prints_one_signed_line(entries):
    line = head()
    newest = entries[-1]
    assert line.startswith(
        f"audit-head v1 id={newest.pk} count={len(entries)} mac={newest.entry_hash} sig="
    )
    assert "\n" not in line
    out = StringIO()
    call_command("verify_audit_log", anchor=line, stdout=out)
    assert f"matches the anchor (entry {newest.pk}, {len(entries)} entries)" in out.getvalue()


def test_an_anchor_holds_while_entries_are_appended(project, admin, entries):
    line = head()
    services.project_set_token(actor=admin, project=project, token="pha_rotated_5678")
    call_command("verify_audit_log", anchor=f"2026-11-30T06:00:01Z cron[42]: {line}")


def test_an_anchor_of_an_empty_log():
    line = head()
    assert line.startswith(f"audit-head v1 id=0 count=0 mac={audit_chain.GENESIS} ")
    call_command("verify_audit_log", anchor=line)


def test_deleting_the_newest_entries_is_caught_by_the_anchor(entries):
    line = head()
    tamper("DELETE FROM incidents_auditentry WHERE id > %s", [entries[-3].pk])
    call_command("verify_audit_log")  # a shorter chain still holds: the anchor is the proof
    with pytest.raises(
        CommandError,
        match=f"Entries after audit entry {entries[-3].pk} are missing: the anchor says entry "
        f"{entries[-1].pk} was the newest of {len(entries)} entries, the log now holds "
        f"{len(entries) - 2}",
    ):
        call_command("verify_audit_log", anchor=line)


def test_truncating_and_writing_back_all_but_the_newest_is_caught_by_the_anchor(entries):
    line = head()
    write_again(entries[:-1])
    call_command("verify_audit_log")
    with pytest.raises(CommandError, match=f"Entries after audit entry {entries[-2].pk} "):
        call_command("verify_audit_log", anchor=line)


def test_writing_every_entry_back_under_new_ids_is_caught_by_the_anchor(entries):
    line = head()
    write_again(entries, keep_ids=False)
    with pytest.raises(CommandError, match=f"Audit entry {entries[-1].pk} is missing"):
        call_command("verify_audit_log", anchor=line)


def test_a_rewrite_with_the_key_is_caught_by_an_earlier_anchor(settings, entries):
    """Even someone holding the server's keys cannot change what an anchor already covers."""
    line = head()
    entries[1].actor_username = "mallory"
    write_again(entries, link=lambda values, previous: forged_mac(values, previous, TEST_KEY))
    call_command("verify_audit_log")
    with pytest.raises(
        CommandError, match=f"Audit entry {entries[-1].pk} .*does not match the anchor"
    ):
        call_command("verify_audit_log", anchor=line)


def test_the_first_broken_entry_is_named_before_the_anchor_is_checked(entries):
    line = head()
    tamper("UPDATE incidents_auditentry SET error = 'edited' WHERE id = %s", [entries[2].pk])
    with pytest.raises(CommandError, match=f"Audit entry {entries[2].pk} .*does not match the"):
        call_command("verify_audit_log", anchor=line)


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(lambda line: line.replace("count=", "count=1"), id="count changed"),
        pytest.param(
            lambda line: line.replace(line.split("mac=")[1][:8], "00000000"), id="mac changed"
        ),
        pytest.param(
            lambda line: (
                line.split(" sig=")[0]
                + " sig="
                + hmac.new(
                    MALLORYS_KEY.encode(), line.split(" sig=")[0].encode(), hashlib.sha256
                ).hexdigest()
            ),
            id="signed with another key",
        ),
        pytest.param(lambda line: line.split(" sig=")[0], id="no signature"),
    ],
)
def test_a_forged_anchor_is_refused(entries, forge):
    line = forge(head())
    with pytest.raises(CommandError, match="signature does not match|not an audit anchor"):
        call_command("verify_audit_log", anchor=line)


def test_rotation_signs_with_the_first_key_and_verifies_with_all(settings, project, admin, entries):
    old_line = head()
    settings.AUDIT_CHAIN_KEY = [NEW_KEY, TEST_KEY]
    services.project_set_token(actor=admin, project=project, token="pha_rotated_5678")
    newest = AuditEntry.objects.order_by("id").last()
    assert newest is not None
    values = {name: getattr(newest, name) for name in audit_chain.HASHED_FIELDS}
    assert newest.entry_hash == forged_mac(values, newest.previous_hash, NEW_KEY)
    call_command("verify_audit_log", anchor=old_line)
    call_command("verify_audit_log", anchor=head())

    settings.AUDIT_CHAIN_KEY = [NEW_KEY]  # the old key dropped too early
    with pytest.raises(CommandError, match=f"Audit entry {entries[0].pk} .*no longer in"):
        call_command("verify_audit_log")
    with pytest.raises(CommandError, match="signature does not match"):
        call_command("verify_audit_log", anchor=old_line)


def test_the_key_is_required_with_debug_off(settings):
    settings.DEBUG = False
    settings.AUDIT_CHAIN_KEY = []
    with pytest.raises(ImproperlyConfigured, match="AUDIT_CHAIN_KEY is not set"):
        audit_chain.check_configuration()
    settings.AUDIT_CHAIN_KEY = ["too-short"]
    with pytest.raises(ImproperlyConfigured, match="AUDIT_CHAIN_KEY entry 1 is shorter"):
        audit_chain.check_configuration()


def test_with_debug_on_a_key_derived_from_the_secret_key_stands_in(settings, caplog):
    settings.DEBUG = True
    settings.AUDIT_CHAIN_KEY = []
    audit_chain.check_configuration()
    assert "AUDIT_CHAIN_KEY is not set" in caplog.text
    project = PhareProject.objects.create(name="Debug", slug="debug")
    entry = audit_chain.append(
        AuditEntry(project=project, action="credential.cleared", outcome="recorded")
    )
    values = {name: getattr(entry, name) for name in audit_chain.HASHED_FIELDS}
    assert entry.entry_hash != forged_mac(values, entry.previous_hash, TEST_KEY)
    assert audit_chain.first_broken_entry() is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain(project, admin):
    before = AuditEntry.objects.count()

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
    assert AuditEntry.objects.count() == before + 60
    assert audit_chain.first_broken_entry() is None
    hashes = list(AuditEntry.objects.values_list("previous_hash", flat=True))
    assert len(set(hashes)) == len(hashes)  # no two entries claim the same predecessor
