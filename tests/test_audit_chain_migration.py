"""Migration 0007: a log chained with plain SHA-256 before AUDIT_CHAIN_KEY is signed again with
the key, as far as its plain chain holds."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from incidents import audit_chain
from incidents.models import AuditEntry

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("incidents", "0006_audit_actions_for_projects_and_members")
HMAC_CHAIN = ("incidents", "0007_audit_chain_hmac_and_truncate_guard")
TEST_KEY = "test-audit-chain-key-not-for-production-0123"  # phare_console.test_settings


def migrate(target: tuple[str, str]) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])


def latest() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def before_0007():
    """The database as it was before 0007 (and back to the latest state afterwards)."""
    migrate(BEFORE)
    executor = MigrationExecutor(connection)
    yield executor.loader.project_state([BEFORE]).apps
    latest()


def write_plain_chain(apps, count: int) -> list[int]:
    """`count` entries chained as the console chained them before 0007."""
    PhareProject = apps.get_model("incidents", "PhareProject")
    HistoricalAuditEntry = apps.get_model("incidents", "AuditEntry")
    project = PhareProject.objects.create(name="Legacy", slug="legacy")
    previous = audit_chain.GENESIS
    start = timezone.now() - timedelta(days=30)
    ids = []
    for number in range(count):
        entry = HistoricalAuditEntry(
            created_at=start + timedelta(hours=number, microseconds=number),
            actor_username="alice",
            project=project,
            action="incident.create.started",
            outcome="pending",
            title=f"Checkout down #{number}",
            payload={"title": f"Checkout down #{number}", "monitors": [1, 2], "ratio": 1.5},
        )
        values = {name: getattr(entry, name) for name in audit_chain.HASHED_FIELDS}
        entry.previous_hash = previous
        entry.entry_hash = previous = audit_chain.entry_hash(values, previous)
        entry.save()
        ids.append(entry.pk)
    return ids


def hmac_with_test_key(entry: AuditEntry) -> str:
    values = {name: getattr(entry, name) for name in audit_chain.HASHED_FIELDS}
    content = {name: audit_chain._canonical(values[name]) for name in audit_chain.HASHED_FIELDS}
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    message = f"{entry.previous_hash}\n{text}".encode()
    return hmac.new(TEST_KEY.encode(), message, hashlib.sha256).hexdigest()


def test_a_plain_chain_is_signed_with_the_key_and_back_again(before_0007):
    ids = write_plain_chain(before_0007, 5)
    plain = dict(AuditEntry.objects.values_list("id", "entry_hash"))

    # 0007 signs; the later migrations (columns added to the audit table) keep every MAC.
    latest()

    assert audit_chain.first_broken_entry() is None
    entries = list(AuditEntry.objects.order_by("id"))
    assert [entry.pk for entry in entries] == ids
    assert entries[0].previous_hash == audit_chain.GENESIS
    for entry in entries:
        assert entry.entry_hash == hmac_with_test_key(entry) != plain[entry.pk]

    migrate(BEFORE)  # reversible: the plain chain again

    assert dict(AuditEntry.objects.values_list("id", "entry_hash")) == plain


def test_a_broken_plain_chain_is_signed_only_up_to_the_break(before_0007, capsys):
    ids = write_plain_chain(before_0007, 5)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "UPDATE incidents_auditentry SET actor_username = 'mallory' WHERE id = %s", [ids[2]]
        )
        if connection.vendor == "postgresql":
            cursor.execute("SET session_replication_role = DEFAULT")

    latest()  # 0007 and the later migrations

    assert f"Audit entry {ids[2]} does not match the chain" in capsys.readouterr().out
    assert audit_chain.first_broken_entry() == ids[2]
    signed = list(AuditEntry.objects.filter(id__lt=ids[2]).order_by("id"))
    assert [entry.entry_hash for entry in signed] == [hmac_with_test_key(e) for e in signed]
