"""Pages: a member's API tokens, and the staff audit of history records."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from . import selectors, services
from .models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the token is for, e.g. 'CI export'")
    days = forms.IntegerField(
        min_value=1,
        max_value=services.MAX_DAYS,
        initial=services.DEFAULT_DAYS,
        help_text=f"Lifetime in days (at most {services.MAX_DAYS})",
    )


@never_cache  # the answer to a creation holds the raw token: no cache keeps it
@login_required
@require_http_methods(["GET", "POST"])
def token_list(request):
    form = TokenForm(request.POST or None)
    issued = None
    if request.method == "POST" and form.is_valid():
        try:
            issued = services.issue_token(
                request.user, form.cleaned_data["name"], form.cleaned_data["days"]
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            form = TokenForm()
    return render(
        request,
        "accounts/tokens.html",
        {
            "form": form,
            "issued": issued,
            "tokens": selectors.tokens_of(request.user),
        },
    )


@login_required
@require_POST
def token_revoke(request, pk):
    try:
        token = services.revoke_token(request.user, pk)
    except ApiToken.DoesNotExist:
        raise Http404("No such token of yours.") from None
    messages.success(request, f"Token {token} revoked.")
    return redirect("accounts:tokens")


class AuditFilter(forms.Form):
    model = forms.ChoiceField(required=False)
    user = forms.CharField(required=False, label="username")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "every model")] + [
            (label, label) for label in selectors.historical_models()
        ]


AUDIT_PAGE_SIZE = 50


def audit(request):
    """Recent history records across the registry, taxonomy, passports and tokens. Staff
    only; to anyone else it does not exist."""
    if not (request.user.is_authenticated and request.user.is_staff):
        raise Http404
    form = AuditFilter(request.GET or None)
    model_label = user_id = None
    nobody = False
    if form.is_valid():
        model_label = form.cleaned_data["model"] or None
        username = form.cleaned_data["user"].strip()
        if username:
            user = get_user_model().objects.filter(username=username).first()
            user_id = user.pk if user else None
            nobody = user is None
    union = None if nobody else selectors.audit_queryset(model_label, user_id)
    page = Paginator(union if union is not None else [], AUDIT_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/audit.html",
        {
            "form": form,
            "page": page,
            "rows": selectors.audit_rows(list(page.object_list)),
            "query": query.urlencode(),
        },
    )
