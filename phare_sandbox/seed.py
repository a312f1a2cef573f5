"""Deterministic demo monitors shaped like Phare's ``Uptime.Monitor`` objects.

Monitor ``n`` (1-based) always looks the same, whatever the total count, so tests can rely
on names and statuses; only ``last_checked_at`` follows the seeding time, so a demo looks live.
Past the hand-written templates, names and hosts get a ``#k`` / ``-k``
suffix, which keeps them unique and within Phare's 2..45 character limit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

# (name, protocol, host, path for http / port for tcp, extra: method for http / connection for tcp)
_TEMPLATES: tuple[tuple[str, str, str, str, str], ...] = (
    ("www homepage", "http", "www.example.com", "/", "GET"),
    ("api-eu-west checkout", "http", "api-eu-west.example.com", "/v1/checkout/health", "GET"),
    ("postgres primary tcp", "tcp", "db-primary.internal.example.com", "5432", "plain"),
    ("api-us-east checkout", "http", "api-us-east.example.com", "/v1/checkout/health", "GET"),
    ("auth login page", "http", "auth.example.com", "/login", "GET"),
    ("redis cache tcp", "tcp", "cache.internal.example.com", "6379", "plain"),
    ("api-eu-west search", "http", "api-eu-west.example.com", "/v1/search/health", "GET"),
    ("billing webhooks", "http", "billing.example.com", "/webhooks/health", "GET"),
    ("smtp relay tcp", "tcp", "smtp.example.com", "587", "plain"),
    ("status page", "http", "status.example.com", "/", "HEAD"),
    ("docs site", "http", "docs.example.com", "/", "HEAD"),
    ("postgres replica tcp", "tcp", "db-replica.internal.example.com", "5432", "plain"),
    ("api-us-east search", "http", "api-us-east.example.com", "/v1/search/health", "GET"),
    ("cdn static assets", "http", "cdn.example.com", "/assets/app.css", "HEAD"),
    ("rabbitmq broker tcp", "tcp", "mq.internal.example.com", "5672", "plain"),
    ("admin dashboard", "http", "admin.example.com", "/healthz", "GET"),
    ("graphql gateway", "http", "gateway.example.com", "/graphql/health", "GET"),
    ("imap mailbox tls", "tcp", "mail.example.com", "993", "tls"),
    ("mobile api v2", "http", "m.example.com", "/api/v2/ping", "GET"),
    ("auth token endpoint", "http", "auth.example.com", "/oauth/health", "GET"),
    ("ldap directory tls", "tcp", "ldap.internal.example.com", "636", "tls"),
    ("image resizer", "http", "img.example.com", "/health", "GET"),
    ("payments callback", "http", "pay.example.com", "/callback/health", "GET"),
    ("mysql legacy tcp", "tcp", "mysql-legacy.internal.example.com", "3306", "plain"),
    ("notifications service", "http", "notify.example.com", "/health", "GET"),
    ("customer portal", "http", "portal.example.com", "/", "GET"),
    ("elasticsearch node tcp", "tcp", "es-1.internal.example.com", "9200", "plain"),
    ("partner api status", "http", "partners.example.com", "/api/status", "GET"),
    ("marketing blog", "http", "blog.example.com", "/", "HEAD"),
    ("ssh bastion tcp", "tcp", "bastion.example.com", "22", "plain"),
    ("search autocomplete", "http", "api-eu-west.example.com", "/v1/autocomplete?q=te", "GET"),
    ("reports export", "http", "reports.example.com", "/health", "GET"),
    ("mqtt broker tls", "tcp", "mqtt.example.com", "8883", "tls"),
    ("ap-south storefront", "http", "ap-south.example.com", "/", "GET"),
    ("support widget", "http", "support.example.com", "/widget.js", "HEAD"),
    ("dns resolver tcp", "tcp", "ns1.example.com", "53", "plain"),
)
_REGION_SETS: tuple[tuple[str, ...], ...] = (
    ("eu-deu-fra", "eu-gbr-lhr", "na-usa-iad"),
    ("na-usa-iad", "na-usa-sea"),
    ("eu-fra-cdg",),
    ("as-sgp-sin", "as-jpn-hnd", "oc-aus-syd"),
    ("eu-deu-fra", "na-usa-iad", "as-sgp-sin", "sa-bra-gru"),
    ("eu-swe-arn", "ng-nld-ams"),
)
_INTERVALS = (60, 30, 60, 120, 60, 300)
_TIMEOUTS = (10000, 5000, 20000, 15000, 30000)
_CREATED_BASE = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)


def format_timestamp(moment: datetime) -> str:
    """Laravel's JSON date format, e.g. ``2026-11-28T01:25:47.000000Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def monitor_status(monitor_id: int) -> str:
    # Mostly online, with a predictable sprinkling of the other states.
    if monitor_id % 11 == 3:
        return "paused"
    if monitor_id % 17 == 5:
        return "offline"
    if monitor_id % 13 == 7:
        return "partial"
    if monitor_id % 19 == 9:
        return "fetching"
    return "online"


def _request(protocol: str, host: str, target: str, extra: str) -> dict[str, Any]:
    if protocol == "tcp":
        return {"host": host, "port": target, "connection": extra, "tls_skip_verify": False}
    return {
        "method": extra,
        "url": f"https://{host}{target}",
        "tls_skip_verify": False,
        "body": None,
        "follow_redirects": True,
        "user_agent_secret": None,
        "headers": None,
    }


def _assertions(protocol: str, monitor_id: int) -> list[dict[str, str]]:
    if protocol == "tcp":
        return []
    assertions = [{"type": "status_code", "operator": "in", "value": "2xx,30x"}]
    if monitor_id % 4 == 0:
        assertions.append({"type": "response_body", "operator": "contains", "value": "ok"})
    return assertions


def build_monitor(monitor_id: int, project_id: int, checked_at: datetime) -> dict[str, Any]:
    """Build monitor ``monitor_id``; ``checked_at`` anchors ``last_checked_at``."""
    index = monitor_id - 1
    cycle, position = divmod(index, len(_TEMPLATES))
    name, protocol, host, target, extra = _TEMPLATES[position]
    if cycle:
        name = f"{name} #{cycle + 1}"
        label, _, domain = host.partition(".")
        host = f"{label}-{cycle + 1}.{domain}"

    status = monitor_status(monitor_id)
    interval = _INTERVALS[index % len(_INTERVALS)]
    regions = list(_REGION_SETS[index % len(_REGION_SETS)])
    created_at = _CREATED_BASE + timedelta(minutes=37 * index)
    updated_at = created_at + timedelta(days=index % 30, hours=3)

    response_time: int | None = 40 + (monitor_id * 53) % 360
    last_checked: datetime | None = checked_at - timedelta(seconds=(monitor_id * 7) % interval)
    if status == "partial":
        response_time = 600 + (monitor_id * 71) % 900
    elif status == "offline":
        response_time = None
    elif status == "fetching":
        response_time = last_checked = None
    elif status == "paused":
        last_checked = checked_at - timedelta(days=2 + monitor_id % 5, minutes=monitor_id % 60)

    return {
        "id": monitor_id,
        "project_id": project_id,
        "name": name,
        "protocol": protocol,
        "request": _request(protocol, host, target, extra),
        "interval": interval,
        "timeout": _TIMEOUTS[index % len(_TIMEOUTS)],
        "regions": regions,
        "region_threshold": 2 if len(regions) >= 3 and monitor_id % 2 else 1,
        "success_assertions": _assertions(protocol, monitor_id),
        "incident_confirmations": 1 + index % 3,
        "recovery_confirmations": 1 + (index + 1) % 3,
        "status": status,
        "paused": status == "paused",
        "response_time": response_time,
        "last_checked_at": format_timestamp(last_checked) if last_checked else None,
        "created_at": format_timestamp(created_at),
        "updated_at": format_timestamp(updated_at),
    }


def build_monitors(count: int, project_id: int, checked_at: datetime) -> dict[int, dict[str, Any]]:
    return {
        monitor_id: build_monitor(monitor_id, project_id, checked_at)
        for monitor_id in range(1, count + 1)
    }
