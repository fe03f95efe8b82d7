from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("account/tokens/", views.token_list, name="tokens"),
    path("account/tokens/<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("audit/", views.audit, name="audit"),
    path("account/two-factor/", views.two_factor, name="two-factor"),
    path("accounts/login/code/", views.login_code, name="login-code"),
]
