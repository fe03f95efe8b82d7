"""Every field of every listed model can be filtered on (a filter, or ?search=), or is
declared unfiltered with a reason (the viewset's `unfiltered_fields`): a new field cannot
slip in unsearchable."""

import pytest
from django_filters.rest_framework import DjangoFilterBackend

from api.urls import router


def list_viewsets():
    for prefix, viewset, _ in router.registry:
        if hasattr(viewset, "list"):
            yield pytest.param(viewset, id=prefix)


def model_fields(model) -> set[str]:
    """Its own fields and many-to-many relations (not the id, not reverse relations)."""
    return {
        f.name
        for f in model._meta.get_fields()
        if (f.concrete or f.many_to_many) and not f.auto_created
    }


def filtered_fields(viewset) -> set[str]:
    view = viewset(action="list", request=None, format_kwarg=None)
    queryset = viewset.queryset
    if queryset is None:
        queryset = viewset.filterset_class._meta.model.objects.all()
    filterset = DjangoFilterBackend().get_filterset_class(view, queryset)
    names = {field.lstrip("^=@$").split("__")[0] for field in getattr(viewset, "search_fields", ())}
    if filterset is None:
        return names
    for name, spec in filterset.base_filters.items():
        names.add(name)
        names.add((spec.field_name or name).split("__")[0])
    return names


@pytest.mark.parametrize("viewset", list(list_viewsets()))
def test_every_model_field_has_a_filter_or_a_stated_reason_not_to(viewset):
    if viewset.queryset is not None:
        model = viewset.queryset.model
    else:  # the queryset is built per request (visibility): the filterset names the model
        model = viewset.filterset_class._meta.model
    declared = getattr(viewset, "unfiltered_fields", {})
    fields = model_fields(model)
    assert all(reason.strip() for reason in declared.values()), "give each a reason"
    assert set(declared) <= fields, f"not fields of {model.__name__}: {set(declared) - fields}"
    missing = fields - filtered_fields(viewset) - set(declared)
    assert not missing, f"{model.__name__}: no filter and no stated reason for {sorted(missing)}"
