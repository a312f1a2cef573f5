"""Exception reports (the DEBUG error page, mailed or logged reports) that never show secrets."""

import re

from django.views.debug import SafeExceptionReporterFilter


class ConsoleExceptionReporterFilter(SafeExceptionReporterFilter):
    """Django's filter, active with DEBUG on too: its own stops hiding `@sensitive_variables`
    frames and `sensitive_post_parameters` once DEBUG is on, and a crash on a developer's
    machine would then show a real Phare token. Connection URLs, which can carry passwords,
    are hidden beside Django's usual names."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|DATABASE_URL|REDIS_URL|LOCATION",
        flags=re.IGNORECASE,
    )

    def is_active(self, request) -> bool:
        return True
