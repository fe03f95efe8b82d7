"""Importing a passport from an Asset Administration Shell environment (passports/aas.py):
the sibling of PassportImportView, which takes a Battery Pass document."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.views import APIView

from api.serializers import passport_aas as aas_s
from api.serializers import passports as s
from passports import aas, services
from passports import permissions as rules

from .passports import WRITE, _body, _detail, _requester


class PassportAasImportView(APIView):
    @extend_schema(
        request=aas_s.AasImportSerializer, responses={201: s.PassportDetailSerializer, **WRITE}
    )
    def post(self, request):
        """Import an AAS v3.0 environment (as export/aas/ answers it) as a draft passport.
        An environment that fails the metamodel's verification is refused naming its first
        error; the Battery Pass document it holds is then checked like import/."""
        body = _body(aas_s.AasImportSerializer, request)
        rules.authorize_import(request.user, body["battery_model"])
        try:
            document = aas.to_document(aas.read_environment(body["environment"]))
        except aas.AasError as exc:
            raise ValidationError({"environment": [str(exc)]}) from exc
        predecessor = None
        if body.get("predecessor"):
            predecessor = services.predecessor_for(_requester(request), body["predecessor"])
        passport = services.passport_import(  # in a transaction of its own
            document=document,
            battery_model=body["battery_model"],
            economic_operator=body["economic_operator"],
            user=request.user,
            predecessor=predecessor,
        )
        return _detail(request, passport, status.HTTP_201_CREATED)
