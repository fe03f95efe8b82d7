"""Verifiable credentials: a passport's (cut to the tier by its disclosures), a verified
attestation's, the issuer's DID document and the Bitstring Status Lists. Thin: the reads
are credentials/selectors.py, the signing credentials/services.py."""

from django.http import Http404, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from api.serializers import credentials as s
from api.serializers.passports import ErrorSerializer
from credentials import keys, selectors, services
from passports import access
from registry.querysets import Requester

ERRORS = {
    404: OpenApiResponse(ErrorSerializer, description="None that you may see"),
    503: OpenApiResponse(ErrorSerializer, description="No signing key configured"),
}


class PassportCredentialView(APIView):
    """Anyone reads; what the answer discloses is cut to the requester's tier."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(responses={200: s.PassportCredentialSerializer, **ERRORS})
    def get(self, request, identifier: str):
        """The latest published version of a passport as a W3C Verifiable Credential
        (SD-JWT VC, ES256): one signature over the whole passport, and the disclosures of
        the attributes your tier may see (Art. 77(2)). Verify it against
        /.well-known/did.json and its credentialStatus."""
        found = selectors.passport_credential(access.requester_for(request.user), identifier)
        if found is None:
            raise NotFound(f"No published passport {identifier!r} that you may see.")
        return Response(s.PassportCredentialSerializer(found).data)


class AttestationCredentialView(APIView):
    """Anyone reads a public verified attestation's credential; a private or shared one
    only those who may see the attestation."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]

    @extend_schema(responses={200: s.AttestationCredentialSerializer, **ERRORS})
    def get(self, request, pk: int):
        """A verified attestation as a UNTP Digital Conformity Credential (W3C VC 2.0,
        SD-JWT, ES256), with its revocation and suspension status entries."""
        found = selectors.attestation_credential(Requester.for_user(request.user), pk)
        if found is None:
            raise NotFound("No verified attestation with this id that you may see.")
        return Response(s.AttestationCredentialSerializer(found).data)


def _unavailable(error: keys.CredentialsUnavailable) -> JsonResponse:
    return JsonResponse({"detail": str(error)}, status=503)


@require_GET
def did_document(request):
    """did:web: the issuer's public keys (every key of the set, so rotated keys verify)."""
    try:
        document = keys.did_document()
    except keys.CredentialsUnavailable as error:
        return _unavailable(error)
    return JsonResponse(document, content_type="application/did+json")


@require_GET
def status_list(request, number: int, purpose: str = services.REVOCATION):
    """A Bitstring Status List credential (vc+jwt), derived from the registry now."""
    try:
        keys.key_ring()
    except keys.CredentialsUnavailable as error:
        return _unavailable(error)
    if not services.status_list_exists(number):
        raise Http404("No such status list.")
    token = services.status_list_credential(number, purpose)
    response = HttpResponse(token, content_type="application/vc+jwt")
    response["Cache-Control"] = "no-cache"  # a bit may flip at any time
    return response
