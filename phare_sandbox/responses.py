"""Answers the sandbox gives, shared by the server and its route modules."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from .readings import Readings

NOT_FOUND = {"message": "Resource not found"}
NOT_AN_OBJECT = {"message": "The request body must be a JSON object.", "errors": {}}


@dataclass
class Response:
    status: int
    body: Any = None  # JSON value; None means an empty body
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as-is instead of ``body`` (fault bodies)
    delivery: str = "full"  # or "dropped" (no answer at all), "truncated" (half the body)


def message(status: int, text: str) -> Response:
    return Response(status, {"message": text})


def found(item: dict[str, Any] | None) -> Response:
    return Response(200, item) if item is not None else Response(404, NOT_FOUND)


def parse_json(raw: bytes) -> Any:
    """Parse a request body; an empty body counts as ``{}``. Raises ``ValueError``."""
    if not raw.strip():
        return {}

    def reject(constant: str) -> None:
        raise ValueError(f"invalid JSON constant {constant}")

    return json.loads(raw.decode("utf-8"), parse_constant=reject)


def read_object(raw: bytes) -> dict[str, Any] | Response:
    """The body as a JSON object, or the 400/422 to answer when it is not one."""
    try:
        body = parse_json(raw)
    except ValueError:
        return message(400, "Malformed JSON.")
    if not isinstance(body, dict):
        return Response(422, NOT_AN_OBJECT)
    return body


def paginated(
    items: list[dict[str, Any]],
    has_more: bool,
    page: int,
    per_page: int,
    query: dict[str, list[str]],
    base_url: str,
    readings: Readings | None = None,
) -> dict[str, Any]:
    """Laravel's simple-paginator envelope: no total, ``links.last`` always null. Links keep
    the other query parameters (per_page, monitor_id) and point to the request's host, unless
    ``readings`` say otherwise."""
    readings = readings or Readings()
    dropped = {"page", "per_page"} if readings.links_drop_per_page else {"page"}
    params = [(k, value) for k, values in query.items() if k not in dropped for value in values]
    path = urlsplit(base_url).path
    if readings.links == "relative":
        base_url = path
    elif readings.links != "absolute":
        base_url = readings.links + path

    def link(number: int) -> str:
        return f"{base_url}?{urlencode([*params, ('page', str(number))])}"

    first = (page - 1) * per_page + 1 if items else None
    return {
        "data": items,
        "meta": {
            "current_page": page,
            "from": first,
            "to": first + len(items) - 1 if first is not None else None,
            "per_page": per_page,
            "path": base_url,
        },
        "links": {
            "first": link(1),
            "last": None,
            "prev": link(page - 1) if page > 1 else None,
            "next": link(page + 1) if has_more else None,
        },
    }
