"""The create path's hand-built statements (incidents/row_sql.py) store and read exactly what the
ORM would: every field compared with the ORM's own read of the same row."""

import uuid
from datetime import UTC, datetime

import pytest
from django.db import DatabaseError
from django.db.models import Model

from incidents import row_sql, selectors
from incidents.models import AuditEntry, IncidentAttempt, PhareProject

pytestmark = pytest.mark.django_db


def field_values(instance: Model) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.fields}


def test_an_inserted_row_reads_back_through_the_orm_as_it_was_written(project, responder):
    attempt = IncidentAttempt(
        submission_key=uuid.uuid4(),
        project=project,
        actor=responder,
        payload={"title": "Checkout “down”", "monitors": [3, 4], "nested": {"ok": None}},
        incident_title="Checkout “down”",
        phare_incident_at=datetime(2026, 11, 30, 9, 15, 0, 123456, tzinfo=UTC),
    )
    row_sql.insert(attempt)

    assert attempt.pk is not None and not attempt._state.adding
    assert attempt.created_at is not None and attempt.updated_at is not None  # auto_now(_add)
    assert field_values(IncidentAttempt.objects.get(pk=attempt.pk)) == field_values(attempt)


def test_an_update_writes_only_the_named_fields_and_moves_auto_now(project, responder):
    attempt = IncidentAttempt.objects.create(
        submission_key=uuid.uuid4(), project=project, payload={"title": "x"}, incident_title="x"
    )
    before = attempt.updated_at
    attempt.state = IncidentAttempt.State.CREATED
    attempt.phare_incident_slug = "DEMO-7"
    attempt.incident_title = "not saved"
    row_sql.update(attempt, ["state", "phare_incident_slug", "updated_at"])

    stored = IncidentAttempt.objects.get(pk=attempt.pk)
    assert (stored.state, stored.phare_incident_slug) == ("created", "DEMO-7")
    assert stored.incident_title == "x"
    assert stored.updated_at > before


def test_an_update_of_a_row_that_is_gone_is_an_error(project):
    attempt = IncidentAttempt.objects.create(
        submission_key=uuid.uuid4(), project=project, payload={}, incident_title="x"
    )
    IncidentAttempt.objects.filter(pk=attempt.pk).delete()
    with pytest.raises(DatabaseError):
        row_sql.update(attempt, ["state"])


def test_a_row_read_by_hand_is_the_instance_the_orm_builds(project):
    # Times, booleans, nullable numbers and the encrypted token's columns, as stored.
    PhareProject.objects.filter(pk=project.pk).update(
        monitors_synced_at=datetime(2026, 11, 30, 8, 0, 0, 654321, tzinfo=UTC),
        organization_key=True,
        phare_project_id=None,
    )
    from django.db import connection

    table = connection.ops.quote_name(PhareProject._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {row_sql.select_list(PhareProject, 'p')} FROM {table} p WHERE p.id = %s",  # noqa: S608
            [project.pk],
        )
        row = cursor.fetchone()

    assert field_values(row_sql.instance_from_row(PhareProject, row)) == field_values(
        PhareProject.objects.get(pk=project.pk)
    )


def test_the_project_comes_with_the_members_own_role_only(project, responder, project_admin):
    from incidents import permissions

    found = selectors.project_for_user(responder, project.slug)
    assert found is not None
    assert field_values(found) == field_values(PhareProject.objects.get(pk=project.pk))
    assert permissions.role_of(responder, found) == "responder"
    assert (
        permissions.role_of(project_admin, selectors.project_for_user(project_admin, project.slug))
        == "admin"
    )


def test_an_audit_entry_already_written_is_never_appended_again(project):
    from incidents import audit_chain

    entry = audit_chain.append(
        AuditEntry(project=project, action="incident.create.started", outcome="pending")
    )
    written = AuditEntry.objects.count()
    with pytest.raises(TypeError):
        audit_chain.append(entry)
    assert AuditEntry.objects.count() == written


def test_a_session_is_read_as_djangos_own_store_reads_it_until_it_expires():
    from django.contrib.sessions.backends.db import SessionStore as DjangoStore
    from django.contrib.sessions.models import Session

    from incidents.session_store import SessionStore

    written = DjangoStore()
    written.update({"_auth_user_id": "7", "note": "ünïcode"})
    written.create()
    key = written.session_key

    assert (
        SessionStore(key).load()
        == DjangoStore(key).load()
        == {
            "_auth_user_id": "7",
            "note": "ünïcode",
        }
    )
    Session.objects.filter(session_key=key).update(expire_date=datetime(2026, 1, 1, tzinfo=UTC))
    expired = SessionStore(key)
    assert expired.load() == {} and expired.session_key is None
