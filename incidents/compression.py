"""Gzip for the console's pages, only where compression cannot leak a secret (BREACH).

BREACH reads a secret out of a compressed HTTPS response by watching its length while the
attacker's guesses are reflected into the same response: each guess that matches the secret
compresses better. It needs both a secret that stays the same from response to response and
input from the request echoed into the body. So only the responses that echo nothing the
request chose are compressed: GET (or HEAD) without a query string, a 200, a whole HTML
document (not streamed). A page at such a fixed address shows what the database holds (monitor
names read from Phare, incidents and audit entries written by the console's own users), never
what a cross-site request put in it (the one cookie a page shows, the viewer's time zone, is
used only when it names a real zone). Searches, filters, prefill links and every POST answer
(the form coming back with what was typed) echo the request and stay uncompressed; so do
streamed exports and error pages.

What such a page does hold: the CSRF token, masked with a fresh random value in each response
(Django's own BREACH defence), so no two responses carry the same bytes for it; the token's last
four characters on an admin's project page, shown on purpose and worthless alone; a submission
key, a random id per form that guards against double submits, not a credential. Django's
GZipMiddleware also adds up to 100 random bytes to each response ("Heal the BREACH"), so a
length is noisy even then. Static files are compressed ahead of time by WhiteNoise, which
answers before this middleware runs.
"""

from django.http import HttpRequest, HttpResponseBase
from django.middleware.gzip import GZipMiddleware


def reflects_nothing(request: HttpRequest, response: HttpResponseBase) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and not request.META.get("QUERY_STRING")
        and response.status_code == 200
        and not response.streaming
        and response.get("Content-Type", "").startswith("text/html")
    )


class PageCompressionMiddleware(GZipMiddleware):
    """Django's GZipMiddleware, for the pages `reflects_nothing` lets through."""

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not reflects_nothing(request, response):
            return response
        return super().process_response(request, response)
