"""What every view needs: the project the user may act on, our status for a failed call to
Phare, and safe values from query strings."""

from django.http import Http404, HttpRequest
from django_htmx.middleware import HtmxDetails

from incidents import permissions, selectors, services
from incidents.models import PhareProject
from incidents.permissions import Capability
from incidents.phare import (
    PhareError,
    PhareOutcomeUnknown,
    PhareRateLimited,
    PhareUnavailable,
)


class HtmxHttpRequest(HttpRequest):
    """A request as HtmxMiddleware leaves it (for type checks)."""

    htmx: HtmxDetails


MAX_ID = 2**63 - 1


def positive_int(value: str) -> int | None:
    """A database id from a query string, or None for anything else ("²", "-1", "1e9")."""
    if value.isascii() and value.isdigit() and 0 < int(value) <= MAX_ID:
        return int(value)
    return None


def query_text(value: str, *, limit: int = 200) -> str:
    """Free text from a query string, without the NUL bytes PostgreSQL refuses."""
    return value.replace("\x00", "")[:limit]


def project_for_request(
    request: HttpRequest, slug: str, capability: Capability = Capability.VIEW
) -> PhareProject:
    """The project, if the user may see it (404 otherwise, so names do not leak), and may do
    `capability` in it (403)."""
    project = selectors.project_for_user(request.user, slug)
    if project is None:
        raise Http404("No such project.")
    permissions.require(request.user, project, capability)
    return project


def status_for(error: PhareError) -> int:
    """Our answer's status for a failed call to Phare; base.html tells htmx to show these."""
    if isinstance(error, services.ReconciliationFailed):
        return status_for(error.cause)
    if isinstance(error, PhareRateLimited):
        return 429
    if isinstance(error, PhareUnavailable):
        return 503
    if isinstance(error, PhareOutcomeUnknown):
        return 504
    return 502
