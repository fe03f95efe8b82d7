"""Readable passport values on pages: nested objects as 'key: value' lines."""

import re

from django import template
from django.utils.html import format_html_join

register = template.Library()


def _label(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", " ", str(key)).lower()


def _lines(value, prefix: str = "") -> list[str]:
    if isinstance(value, dict):
        out = []
        for key, item in value.items():
            out += _lines(
                item,
                f"{prefix}{_label(key)}: "
                if not isinstance(item, dict)
                else f"{prefix}{_label(key)} · ",
            )
        return out
    if isinstance(value, list):
        out = []
        for item in value:
            out += _lines(item, prefix)
        return out
    return [f"{prefix}{value}"]


@register.filter
def readable(value):
    return format_html_join("", "<div>{}</div>", ((line,) for line in _lines(value)))
