"""Admins test the stored token with one cheap read against the Phare sandbox."""

import pytest
from django.test import Client
from django.urls import reverse

from incidents import services
from tests.helpers import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(project, django_user_model) -> Client:
    admin = django_user_model.objects.create_user("dave")
    make_member(admin, project, "admin")
    client = Client()
    client.force_login(admin)
    return client


def check(client: Client, project, **headers):
    url = reverse("incidents:project_connection_check", kwargs={"slug": project.slug})
    return client.post(url, headers=headers)


def test_a_working_token_says_works_in_place(admin_client, project, sandbox):
    response = check(admin_client, project, HX_Request="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith('<div id="connection-result"')
    assert "<strong>Works</strong>" in html
    assert sandbox.state.request_log[-1] == "GET /uptime/monitors?per_page=1"
    assert sandbox.state.create_requests == []


def test_a_rejected_token_says_401(admin_client, project, sandbox):
    services.project_set_token(
        actor=project.memberships.get(role="admin").user, project=project, token="pha_unknown_9"
    )
    html = check(admin_client, project, HX_Request="true").content.decode()
    assert "<strong>Token rejected (401)</strong>" in html


def test_a_missing_permission_says_403_with_phares_message(admin_client, project, sandbox):
    sandbox.state.add_fault(
        route="list_monitors", status=403, body='{"message": "This key cannot read monitors."}'
    )
    html = check(admin_client, project, HX_Request="true").content.decode()
    assert "<strong>Missing permission (403)</strong>" in html
    assert "Phare says: “This key cannot read monitors.”" in html


def test_phare_down_is_explained(admin_client, project, sandbox):
    sandbox.state.add_fault(route="list_monitors", status=503)
    html = check(admin_client, project, HX_Request="true").content.decode()
    assert "<strong>Could not check</strong>: Phare is having trouble (503)" in html


def test_without_javascript_the_project_page_shows_the_result(admin_client, project, sandbox):
    response = check(admin_client, project)
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Demo</h1>" in html
    assert "<strong>Works</strong>" in html


def test_only_admins_see_the_button(admin_client, alice_client, project, sandbox):
    assert "Test connection" in admin_client.get(project.get_absolute_url()).content.decode()
    assert "Test connection" not in alice_client.get(project.get_absolute_url()).content.decode()
