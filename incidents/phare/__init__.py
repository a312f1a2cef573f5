"""The Phare REST API, as the rest of the console sees it: a client, its errors and its types.

Docs: https://docs.phare.io/api-reference/introduction. Only `transport` imports httpx.
"""

from incidents.phare.client import PhareClient, describe_create_request
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
from incidents.phare.schemas import (
    Incident,
    IncidentPage,
    IncidentPayload,
    IncidentUpdate,
    IncidentUpdatePayload,
    MonitorSummary,
    RequestPreview,
    incident_edit_body,
    same_value,
)

__all__ = [
    "Incident",
    "IncidentPage",
    "IncidentPayload",
    "IncidentUpdate",
    "IncidentUpdatePayload",
    "MonitorSummary",
    "RequestPreview",
    "PhareAuthError",
    "PhareBadResponse",
    "PhareClient",
    "PhareError",
    "PhareNotFound",
    "PhareOutcomeUnknown",
    "PhareRateLimited",
    "PhareUnavailable",
    "PhareValidationError",
    "describe_create_request",
    "field_errors_from",
    "incident_edit_body",
    "same_value",
    "message_in",
]
