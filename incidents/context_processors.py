from urllib.parse import urlsplit

from django.conf import settings

REAL_PHARE_HOST = "api.phare.io"


def phare_target(request) -> dict:
    """Which Phare the console talks to, so a page never hides that it is not the real one."""
    host = urlsplit(settings.PHARE_API_URL).netloc
    return {"phare_host": host, "phare_is_sandbox": host != REAL_PHARE_HOST}
