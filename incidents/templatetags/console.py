import json

from django import template

register = template.Library()


@register.filter
def pretty_json(value) -> str:
    """JSON as Phare saw it (not Python's repr); autoescaped by the template."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)
