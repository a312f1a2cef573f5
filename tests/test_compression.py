"""Pages are gzipped only where nothing of the request is echoed (BREACH, incidents/compression)."""

import gzip
import re

import pytest
from django.urls import reverse

from tests.helpers import HTMX, incident_form_data

pytestmark = pytest.mark.django_db

BROWSER = {"HTTP_ACCEPT_ENCODING": "gzip, deflate, br, zstd"}
ECHO = "Checkout echoes this title"


def project_url(project, name: str = "incidents:project_detail") -> str:
    return reverse(name, kwargs={"slug": project.slug})


def csrf_tokens(html: str) -> set[str]:
    return set(re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html))


def test_project_page_comes_gzipped_and_keeps_its_headers(alice_client, project):
    response = alice_client.get(project_url(project), **BROWSER)
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    html = gzip.decompress(response.content).decode()
    assert 'id="incident-form"' in html
    assert int(response["Content-Length"]) == len(response.content) < len(html.encode()) / 3
    assert "Accept-Encoding" in response["Vary"]
    assert "HX-Request" in response["Vary"]
    assert response["Cache-Control"] == "no-store, private"
    assert "script-src 'self'" in response["Content-Security-Policy"]


def test_each_compressed_page_carries_a_differently_masked_csrf_token(alice_client, project):
    """The one secret on the page never repeats its bytes from one response to the next."""
    pages = [
        gzip.decompress(alice_client.get(project_url(project), **BROWSER).content).decode()
        for _ in range(2)
    ]
    first, second = (csrf_tokens(page) for page in pages)
    assert len(first) == len(second) == 1
    assert first != second


def test_a_client_that_accepts_no_gzip_gets_the_page_plain(alice_client, project):
    response = alice_client.get(project_url(project))
    assert "Content-Encoding" not in response
    assert 'id="incident-form"' in response.content.decode()


@pytest.mark.parametrize(
    "name, query",
    [
        ("incidents:incident_create", {"title": ECHO}),  # a prefill link
        ("incidents:project_detail", {"created": "1", "echo": ECHO}),
        ("incidents:incident_list", {"q": ECHO}),
    ],
)
def test_a_page_with_a_query_string_stays_plain(alice_client, project, name, query):
    response = alice_client.get(project_url(project, name), query, **BROWSER)
    assert response.status_code == 200
    assert "Content-Encoding" not in response
    assert response.content.startswith(b"<!doctype html>")


def test_monitor_search_stays_plain(alice_client, project):
    url = project_url(project, "incidents:monitor_search")
    response = alice_client.get(url, {"q": "api"}, **HTMX, **BROWSER)
    assert response.status_code == 200
    assert "Content-Encoding" not in response
    assert "api" in response.content.decode()


def test_a_posted_form_coming_back_with_what_was_typed_stays_plain(alice_client, project):
    """Without JavaScript, a monitor search posts the whole form and gets the page back (200)
    with the title typed; with htmx, a refused create comes back as a 422."""
    data = incident_form_data(title=ECHO, q="api", description="", incident_at="")
    reload = alice_client.post(
        project_url(project, "incidents:incident_form_reload"), data, **BROWSER
    )
    refused = alice_client.post(
        project_url(project, "incidents:incident_create"),
        data | {"title": "x" * 251},
        **HTMX,
        **BROWSER,
    )
    assert (reload.status_code, refused.status_code) == (200, 422)
    for response in (reload, refused):
        assert "Content-Encoding" not in response
    assert f'value="{ECHO}"' in reload.content.decode()
