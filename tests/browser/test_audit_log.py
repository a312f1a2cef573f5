"""The audit log in a real browser: filters, HTMX paging with the address kept, under the CSP."""

import io

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from incidents.models import AuditEntry
from tests.helpers import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_walk_the_log_older_and_newer_then_filter(page: Page, live_server, alice, project):
    call_command("seed_audit", "--count", "120", "--days", "5", stdout=io.StringIO())
    newest = list(AuditEntry.objects.order_by("-created_at", "-id").values_list("id", flat=True))
    log_in(page, live_server, alice)
    page.get_by_role("link", name="Audit log").click()
    rows = page.locator("#audit-results tbody tr")
    expect(rows).to_have_count(50)
    first_link = rows.first.get_by_role("link")
    expect(first_link).to_have_attribute("href", f"/audit/{newest[0]}/")

    page.evaluate("window.notReloaded = true")
    page.get_by_role("link", name="Older →").click()
    expect(rows.first.get_by_role("link")).to_have_attribute("href", f"/audit/{newest[50]}/")
    assert "before=" in page.url  # the address follows, so the page can be shared or reloaded
    page.get_by_role("link", name="← Newer").click()
    expect(rows.first.get_by_role("link")).to_have_attribute("href", f"/audit/{newest[0]}/")
    assert page.evaluate("window.notReloaded") is True

    page.get_by_label("Outcome").select_option("rejected")
    page.get_by_role("button", name="Filter").click()
    expect(rows.first.locator(".outcome")).to_have_text("Rejected by Phare")
    rejected = AuditEntry.objects.filter(outcome="rejected").count()
    expect(rows).to_have_count(min(rejected, 50))
    assert page.console_errors == []
