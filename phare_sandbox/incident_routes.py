"""Incidents and their updates: the API routes, and the control routes that change them the
way Phare itself would (its dashboard, its monitoring) behind the console's back.

Handlers raise ``ValidationError``; the server answers it as 422.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .responses import NOT_FOUND, Response, found, paginated, read_object
from .state import SandboxState
from .validation import ListQuery, validate_list_query

API_KEY_CREATOR = {"id": 1, "type": "api_key", "label": "Sandbox API key"}
DASHBOARD_CREATOR = {"id": 7, "type": "user", "label": "Phare dashboard user"}


@dataclass(frozen=True)
class ApiCall:
    state: SandboxState
    resource_id: int  # the incident's id, 0 on routes without one
    query: dict[str, list[str]]
    raw: bytes
    base_url: str  # the request's URL without its query, for pagination links


# -- Phare API ---------------------------------------------------------------------------


def create_incident(call: ApiCall) -> Response:
    body = read_object(call.raw)
    if isinstance(body, Response):
        return body
    return Response(201, call.state.create_incident(body))


def list_incidents(call: ApiCall) -> Response:
    params = validate_list_query(call.query)
    items, has_more = call.state.incident_page(params.page, params.per_page, params.monitor_ids)
    return _page(call, params, items, has_more)


def get_incident(call: ApiCall) -> Response:
    return found(call.state.get_incident(call.resource_id))


def edit_incident(call: ApiCall) -> Response:
    body = read_object(call.raw)
    if isinstance(body, Response):
        return body
    return found(call.state.edit_incident(call.resource_id, body))


def delete_incident(call: ApiCall) -> Response:
    return (
        Response(204) if call.state.delete_incident(call.resource_id) else Response(404, NOT_FOUND)
    )


def recover_incident(call: ApiCall) -> Response:
    if call.state.recover_incident(call.resource_id) is None:
        return Response(404, NOT_FOUND)
    return Response(204)


def list_incident_updates(call: ApiCall) -> Response:
    page_query = {k: v for k, v in call.query.items() if k in ("page", "per_page")}
    params = validate_list_query(page_query)
    page = call.state.incident_update_page(call.resource_id, params.page, params.per_page)
    if page is None:
        return Response(404, NOT_FOUND)
    items, has_more = page
    return _page(call, params, items, has_more)


def _page(call: ApiCall, params: ListQuery, items: list, has_more: bool) -> Response:
    """One page of a list, with its links as the sandbox's current readings write them."""
    return Response(
        200,
        paginated(
            items,
            has_more,
            params.page,
            params.per_page,
            call.query,
            call.base_url,
            call.state.readings,
        ),
    )


def create_incident_update(call: ApiCall) -> Response:
    return _add_update(call.state, call.resource_id, call.raw, API_KEY_CREATOR)


API_HANDLERS: dict[str, Callable[[ApiCall], Response]] = {
    "create_incident": create_incident,
    "list_incidents": list_incidents,
    "get_incident": get_incident,
    "edit_incident": edit_incident,
    "delete_incident": delete_incident,
    "recover_incident": recover_incident,
    "list_incident_updates": list_incident_updates,
    "create_incident_update": create_incident_update,
}


# -- control API -------------------------------------------------------------------------


def control_edit_incident(state: SandboxState, incident_id: int, raw: bytes) -> Response:
    body = read_object(raw)
    if isinstance(body, Response):
        return body
    return found(state.edit_incident(incident_id, body, control=True))


def control_add_update(state: SandboxState, incident_id: int, raw: bytes) -> Response:
    return _add_update(state, incident_id, raw, DASHBOARD_CREATOR)


def control_open_monitor_incident(state: SandboxState, raw: bytes) -> Response:
    body = read_object(raw)
    if isinstance(body, Response):
        return body
    return Response(201, state.open_monitor_incident(body))


def _add_update(
    state: SandboxState, incident_id: int, raw: bytes, creator: dict[str, Any]
) -> Response:
    body = read_object(raw)
    if isinstance(body, Response):
        return body
    update = state.add_incident_update(incident_id, body, creator)
    return Response(201, update) if update is not None else Response(404, NOT_FOUND)
