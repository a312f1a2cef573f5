"""Login throttling (django-axes), the Content-Security-Policy on every HTML answer, forms
in other encodings than UTF-8, what browsers may keep, and idle sessions."""

import time

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


# A form POST in an encoding other than UTF-8: a 400 before anything reads it.

NOT_UTF8 = [
    "application/x-www-form-urlencoded; charset=utf-16",
    "application/x-www-form-urlencoded; charset=UTF-32",
    "application/x-www-form-urlencoded; charset=latin-1",
    "application/x-www-form-urlencoded; charset=no-such-charset",
    "multipart/form-data; boundary=xx; charset=utf-16",
]


def post_bytes(client: Client, url: str, body: str, content_type: str, **extra):
    """The body as the declared charset encodes it (the test client would re-encode it)."""
    charset = content_type.rpartition("charset=")[2]
    try:
        data = body.encode(charset)
    except LookupError:
        data = body.encode()
    return client.generic("POST", url, data, content_type=content_type, **extra)


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("content_type", NOT_UTF8)
def test_a_login_form_not_in_utf8_is_a_400(alice, settings, content_type, debug):
    settings.DEBUG = debug  # with DEBUG on, Django's error page itself failed on it: a 500
    client = Client(raise_request_exception=False)
    response = post_bytes(client, LOGIN, "username=alice&password=alice-password-1", content_type)
    assert response.status_code == 400
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("htmx", [False, True])
@pytest.mark.parametrize("content_type", NOT_UTF8)
def test_a_signed_in_form_not_in_utf8_is_a_400(
    alice_client, project, sandbox, settings, content_type, htmx
):
    settings.DEBUG = True
    alice_client.raise_request_exception = False
    url = reverse("incidents:incident_create", kwargs={"slug": project.slug})
    body = "submission_key=7d1c5a8e-4a43-4a0b-9d61-2f3f1f0c9b10&impact=major_outage&title=Utf"
    extra = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    response = post_bytes(alice_client, url, body, content_type, **extra)
    assert response.status_code == 400
    assert sandbox.state.create_requests == []


@pytest.mark.parametrize("charset", ["utf-8", "UTF-8", "utf8", "us-ascii"])
def test_forms_declaring_utf8_or_ascii_are_read(alice, charset):
    client = Client()
    content_type = f"application/x-www-form-urlencoded; charset={charset}"
    response = post_bytes(client, LOGIN, "username=alice&password=alice-password-1", content_type)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


# What browsers and proxies may keep.


def test_pages_partials_and_exports_behind_the_login_are_never_stored(alice_client, project):
    urls = [
        reverse("incidents:home"),
        project.get_absolute_url(),
        reverse("incidents:audit_list"),
        reverse("incidents:audit_export_csv"),
        reverse("incidents:monitor_search", kwargs={"slug": project.slug}),
        "/no/such/page/",
    ]
    for url in urls:
        for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
            response = alice_client.get(url, **extra)
            assert response.status_code in (200, 404), url
            if response.streaming:
                b"".join(response.streaming_content)  # read to the end: its cursor is closed
            cache_control = {part.strip() for part in response["Cache-Control"].split(",")}
            assert {"no-store", "private"} <= cache_control, url
            assert "HX-Request" in response["Vary"], url


def test_the_login_redirect_and_the_htmx_401_vary_on_hx_request(client, project):
    page = client.get(project.get_absolute_url())
    partial = client.get(project.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert (page.status_code, partial.status_code) == (302, 401)
    for response in (page, partial):
        assert "no-store" in response["Cache-Control"] and "HX-Request" in response["Vary"]


def test_the_login_page_healthz_and_static_files_keep_their_own_headers(alice_client):
    for url in (LOGIN, "/healthz", "/static/incidents/console.css"):
        response = alice_client.get(url)
        assert response.status_code == 200, url
        assert "HX-Request" not in response.get("Vary", ""), url
        if url != LOGIN:  # Django's LoginView is never_cache by itself
            assert "no-store" not in response.get("Cache-Control", ""), url


def test_the_admin_is_never_stored_either(django_user_model):
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root"))
    response = client.get("/admin/incidents/phareproject/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


# Sessions end after SESSION_IDLE_HOURS without a request.


def log_in(client: Client) -> None:
    response = client.post(LOGIN, {"username": "alice", "password": "alice-password-1"})
    assert response.status_code == 302


def signed_in(client: Client) -> bool:
    return client.get(reverse("incidents:home")).status_code == 200


def test_sessions_last_the_idle_time_from_the_login(alice, settings):
    assert settings.SESSION_IDLE_HOURS == 12 and settings.SESSION_COOKIE_AGE == 12 * 3600
    assert not settings.SESSION_SAVE_EVERY_REQUEST
    client = Client()
    log_in(client)
    assert client.cookies[settings.SESSION_COOKIE_NAME]["max-age"] == 12 * 3600
    assert 12 * 3600 - 5 < client.session.get_expiry_age() <= 12 * 3600


def test_requests_do_not_write_the_session_each_time(alice, settings):
    client = Client()
    log_in(client)
    for _ in range(2):
        response = client.get(reverse("incidents:home"))
        assert response.status_code == 200
        assert settings.SESSION_COOKIE_NAME not in response.cookies  # nothing saved


@pytest.mark.django_db(transaction=True)
def test_a_session_ends_after_the_idle_time_and_each_request_moves_that(alice, settings):
    """Real time, with the idle time cut to 2 s, so that the database and Redis (whichever
    holds sessions) expire it themselves."""
    settings.SESSION_COOKIE_AGE = 2  # the expiry then moves at most every 0.2 s
    client = Client()
    log_in(client)
    for _ in range(4):  # 3.6 s in all, past the 2 s since the login
        time.sleep(0.9)
        assert signed_in(client)
    time.sleep(2.5)
    assert not signed_in(client)
