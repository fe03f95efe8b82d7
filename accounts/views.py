"""Pages: sign-in with an optional second step, two-factor settings, a member's API tokens,
and the staff audit of history records."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth import login as auth_login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from . import selectors, services, twofactor
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


# --- Sign-in, two steps for users with two-factor on -------------------------------------


class TwoStepLoginView(auth_views.LoginView):
    """The password step. A user with a confirmed two-factor device is not signed in here:
    the session only remembers who is pending, and the code step signs them in."""

    def form_valid(self, form):
        user = form.get_user()
        if not twofactor.has_two_factor(user):
            return super().form_valid(form)
        # The safe redirect target (LoginView checks `next`) travels with the pending user.
        twofactor.begin(self.request.session, user, user.backend, self.get_success_url())
        return redirect("accounts:login-code")


class CodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code from your authenticator app",
        max_length=10,
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"}
        ),
    )


def _back_to_login(request, message: str):
    messages.error(request, message)
    return redirect("login")


@never_cache
@require_http_methods(["GET", "POST"])
def login_code(request):
    """The second step: the code of the pending user's device; only then signed in."""
    state = twofactor.pending(request.session)
    user = twofactor.pending_user(state) if state else None
    device = twofactor.confirmed_device(user) if user else None
    if device is None:
        twofactor.end(request.session)
        return _back_to_login(request, "Your sign-in has expired or was not started: log in again.")
    form = CodeForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        if twofactor.verify(device, form.cleaned_data["code"]):
            next_url = state["next"]
            twofactor.end(request.session)
            auth_login(request, user, backend=state["backend"])
            otp_login(request, device)
            return HttpResponseRedirect(next_url)
        left = twofactor.record_failure(request.session, state)
        if left <= 0:
            return _back_to_login(request, "Too many wrong codes: log in again.")
        form.add_error("code", f"That code is not right (or has expired). {left} tries left.")
        status = 400
    elif request.method == "POST":
        status = 400
    return render(request, "accounts/login_code.html", {"form": form}, status=status)


# --- Two-factor settings -----------------------------------------------------------------


class TurnOffForm(forms.Form):
    code = forms.CharField(label="A current code", required=False, max_length=10)
    password = forms.CharField(label="or your password", required=False, widget=forms.PasswordInput)


@never_cache  # the setup answer holds the secret
@login_required
@require_http_methods(["GET", "POST"])
def two_factor(request):
    """Whether two-factor sign-in is on; turning it on (confirmed by a current code) and
    off (with a current code or the password)."""
    user = request.user
    code_form = CodeForm()
    off_form = TurnOffForm()
    status = 200
    action = request.POST.get("action") if request.method == "POST" else None
    if action == "start":
        if twofactor.has_two_factor(user):
            messages.info(request, "Two-factor sign-in is already on.")
        else:
            twofactor.start_setup(user)
        return redirect("accounts:two-factor")
    if action == "cancel":
        twofactor.cancel_setup(user)
        return redirect("accounts:two-factor")
    if action == "confirm":
        code_form = CodeForm(request.POST)
        if code_form.is_valid() and twofactor.confirm_setup(user, code_form.cleaned_data["code"]):
            messages.success(request, "Two-factor sign-in is on: you will be asked for a code.")
            return redirect("accounts:two-factor")
        if code_form.is_valid():
            code_form.add_error(
                "code", "That code is not right (or has expired): try the next one."
            )
        status = 400
    elif action == "off":
        off_form = TurnOffForm(request.POST)
        device = twofactor.confirmed_device(user)
        if off_form.is_valid() and device is not None:
            code = off_form.cleaned_data["code"]
            password = off_form.cleaned_data["password"]
            if (code and twofactor.verify(device, code)) or (
                password and user.check_password(password)
            ):
                twofactor.turn_off(user)
                messages.success(request, "Two-factor sign-in is off.")
                return redirect("accounts:two-factor")
            off_form.add_error(None, "Give a current code or your password to turn it off.")
        elif device is None:
            off_form.add_error(None, "Two-factor sign-in is not on.")
        status = 400
    elif action is not None:
        return render(
            request,
            "accounts/two_factor.html",
            {"on": twofactor.has_two_factor(user), "unknown": action},
            status=400,
        )
    setup = None if twofactor.has_two_factor(user) else twofactor.unconfirmed_device(user)
    return render(
        request,
        "accounts/two_factor.html",
        {
            "on": twofactor.has_two_factor(user),
            "setup": setup,
            "qr": twofactor.qr_svg(setup) if setup else "",
            "secret": twofactor.secret_text(setup) if setup else "",
            "code_form": code_form,
            "off_form": off_form,
        },
        status=status,
    )
