"""The Phare REST API, as the rest of the console sees it: a client, its errors and its types.

Docs: https://docs.phare.io/api-reference/introduction. Only `transport` imports httpx.
"""

from incidents.phare.client import PhareClient
from incidents.phare.errors import (
    PhareAuthError,
    PhareBadResponse,
    PhareError,
    PhareNotFound,
    PhareOutcomeUnknown,
    PhareRateLimited,
    PhareUnavailable,
    PhareValidationError,
    field_errors_from,
    message_in,
)
from incidents.phare.schemas import Incident, IncidentPayload, MonitorSummary

__all__ = [
    "Incident",
    "IncidentPayload",
    "MonitorSummary",
    "PhareAuthError",
    "PhareBadResponse",
    "PhareClient",
    "PhareError",
    "PhareNotFound",
    "PhareOutcomeUnknown",
    "PhareRateLimited",
    "PhareUnavailable",
    "PhareValidationError",
    "field_errors_from",
    "message_in",
]
