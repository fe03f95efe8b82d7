from django.urls import path

from . import views

app_name = "passports"

urlpatterns = [
    path("passports/", views.passport_list, name="list"),
    path("p/<str:identifier>/", views.public_page, name="public"),
    path("p/<str:identifier>/qr.svg", views.qr_code, name="qr"),
]
