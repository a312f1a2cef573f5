"""Login throttling (django-axes) and the Content-Security-Policy on every HTML answer."""

import pytest
from django.test import Client
from django.urls import reverse

from incidents.middleware import client_ip
from tests.helpers import assert_strict_csp

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def wrong_login(client: Client, username: str = "alice", address: str = "203.0.113.7"):
    return client.post(
        LOGIN, {"username": username, "password": "not-the-password"}, REMOTE_ADDR=address
    )


def test_the_sixth_wrong_password_locks_the_username_with_a_clear_message(alice, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert wrong_login(client).status_code == 200
    locked = wrong_login(client)
    assert locked.status_code == 429
    html = locked.content.decode()
    assert "Logins as “alice” from this address are paused for 15 minutes" in html
    assert "python manage.py axes_reset_username alice" in html
    assert_strict_csp(locked)
    # Even the right password is refused until the pause ends.
    right = client.post(
        LOGIN, {"username": "alice", "password": "alice-password-1"}, REMOTE_ADDR="203.0.113.7"
    )
    assert right.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_lockout_does_not_reach_the_same_user_elsewhere_or_other_users(alice, django_user_model):
    django_user_model.objects.create_user("bob", password="bob-password-1")
    client = Client()
    for _ in range(6):
        wrong_login(client)
    assert wrong_login(client).status_code == 429
    elsewhere = Client().post(
        LOGIN, {"username": "alice", "password": "alice-password-1"}, REMOTE_ADDR="198.51.100.2"
    )
    assert elsewhere.status_code == 302
    bob = Client().post(
        LOGIN, {"username": "bob", "password": "bob-password-1"}, REMOTE_ADDR="203.0.113.7"
    )
    assert bob.status_code == 302


def test_a_successful_login_forgets_earlier_failures(alice, settings):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        wrong_login(client)
    good = {"username": "alice", "password": "alice-password-1"}
    assert client.post(LOGIN, good, REMOTE_ADDR="203.0.113.7").status_code == 302
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert wrong_login(client).status_code == 200


def test_admin_login_is_throttled_too(alice, settings):
    client = Client()
    url = reverse("admin:login")
    data = {"username": "alice", "password": "wrong", "next": "/admin/"}
    statuses = [client.post(url, data).status_code for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert statuses[-1] == 429
    assert statuses[:-1] == [200] * (settings.AXES_FAILURE_LIMIT - 1)


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.9", "10.0.0.2"),  # no trusted proxy: the header is the client's word
        (1, "6.6.6.6, 198.51.100.9", "198.51.100.9"),  # the balancer appended the real one
        (2, "198.51.100.9, 10.0.0.5", "198.51.100.9"),
        (2, "198.51.100.9", "10.0.0.2"),  # fewer entries than proxies: not through them
    ],
)
def test_client_address_behind_trusted_proxies(rf, settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = proxies
    request = rf.get("/", HTTP_X_FORWARDED_FOR=forwarded, REMOTE_ADDR="10.0.0.2")
    assert client_ip(request) == expected


@pytest.mark.parametrize(
    ("url", "logged_in"),
    [
        (LOGIN, False),
        ("/admin/login/", False),
        ("/admin/", True),
        ("/admin/incidents/phareproject/", True),
        ("/admin/incidents/phareproject/add/", True),
        ("/no/such/page/", True),
    ],
)
def test_every_html_answer_carries_the_policy(url, logged_in, django_user_model):
    client = Client()
    if logged_in:
        client.force_login(django_user_model.objects.create_superuser("root"))
    response = client.get(url)
    assert response.status_code in (200, 404)
    assert response["Content-Type"].startswith("text/html")
    assert_strict_csp(response)
