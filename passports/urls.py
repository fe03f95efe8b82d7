from django.urls import path

from . import resolver, views

app_name = "passports"

urlpatterns = [
    path("passports/", views.passport_list, name="list"),
    path("p/<str:identifier>/", views.public_page, name="public"),
    path("p/<str:identifier>/qr.svg", views.qr_code, name="qr"),
    path("p/<str:identifier>/qr.png", views.qr_code, {"kind": "png"}, name="qr-png"),
    # GS1 Digital Link (ISO/IEC 18975): what the QR code carries when the model has a GTIN.
    path("01/<str:gtin>/21/<path:serial>", resolver.DigitalLinkView.as_view(), name="digital-link"),
    path(".well-known/gs1resolver", resolver.resolver_description, name="gs1resolver"),
]
