"""`{{ code|named:names }}`: a code's human name from a dict the view built once (one
query for the page, never one per row); the code itself when it has no name."""

from django import template

register = template.Library()


@register.filter
def named(code, names):
    return names.get(code, code) if names else code
