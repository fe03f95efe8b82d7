"""A resolver in the manner of GS1 Digital Link (ISO/IEC 18975, GS1-Conformant Resolver
1.1): /01/{GTIN}/21/{serial} names one battery. A browser is sent to its public page, an
API client gets the passport JSON as its tier sees it (the API's own answer), and
?linkType=all (or Accept: application/linkset+json) gets the link set (RFC 9264). Drafts
resolve to nothing, as a missing battery does: a Digital Link is printed on the battery."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q
from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.querysets import Requester

from . import access, gtin, selectors
from .models import Lifecycle
from .qr import base_url, digital_link

GS1 = "https://gs1.org/voc/"
LINKSET = "application/linkset+json"
HTML, JSON = "text/html", "application/json"

# The links of every published battery, by GS1 link type: (path from the passport's
# internal id and its model's id, media type, title). Each is open to every requester
# (the API cuts each answer to the tier): a link that were not would be left out here.
LINKS: dict[str, tuple[str, str, str]] = {
    "pip": ("/p/{id}/", HTML, "Battery passport: public page"),
    "sustainabilityInfo": (
        "/api/passports/{id}/",
        JSON,
        "Battery passport (Battery Pass 1.2.0), as your access tier sees it",
    ),
    "certificationInfo": (
        "/api/passports/{id}/credential/",
        JSON,
        "Verifiable credential of the passport's latest published version (SD-JWT VC)",
    ),
    "traceability": (
        "/api/passports/models/{model}/provenance/",
        JSON,
        "Provenance of the battery's minerals, from the registry's supply chain",
    ),
    "masterData": ("/api/passports/models/{model}/", JSON, "Battery model"),
}
DEFAULT_LINK = "pip"
ANONYMOUS = Requester.anonymous()


def link_type_name(raw: str) -> str | None:
    """'gs1:pip' or 'https://gs1.org/voc/pip' -> 'pip'; None for another vocabulary."""
    for prefix in ("gs1:", GS1):
        if raw.startswith(prefix):
            return raw.removeprefix(prefix)
    return None


# --- The battery a Digital Link names ------------------------------------------------------


def normalised_gtin(raw: str) -> str:
    try:
        return gtin.normalise(raw)
    except DjangoValidationError as error:
        raise ValidationError({"gtin": error.messages}) from None


def battery_row(requester: Requester, gtin14: str, serial: str, documents: bool) -> dict | None:
    """The published passport of GTIN + serial as a passport row (one query), with the
    model's id; the document columns only when the answer carries the document."""
    columns = (*selectors.ROW_COLUMNS, "battery_model_id")
    if documents:
        columns += selectors.document_columns(requester)
    return (
        selectors.visible_passports(requester)
        .filter(
            Q(battery_model__gtin=gtin14, battery_identifier=serial),
            lifecycle=Lifecycle.PUBLISHED,
        )
        .values(*columns)
        .first()
    )


def links(row: dict) -> dict[str, dict]:
    """GS1 link type -> its RFC 9264 target object."""
    base = base_url()
    out = {}
    for name, (path, media_type, title) in LINKS.items():
        href = base + path.format(id=row["internal_id"], model=row["battery_model_id"])
        out[name] = {"href": href, "type": media_type, "title": title, "hreflang": ["en"]}
    return out


def linkset(anchor: str, targets: dict[str, dict]) -> dict:
    """The RFC 9264 JSON link set: one context object, relation URIs to target arrays."""
    context: dict = {"anchor": anchor}
    context[GS1 + "defaultLink"] = [targets[DEFAULT_LINK]]
    for name, target in targets.items():
        context[GS1 + name] = [target]
    return {"linkset": [context]}


def link_header(anchor: str, targets: dict[str, dict]) -> str:
    """RFC 8288 Link: the link set itself, then each link by its relation type."""
    parts = [f'<{anchor}?linkType=all>; rel="linkset"; type="{LINKSET}"']
    parts += [
        f'<{t["href"]}>; rel="{GS1}{name}"; type="{t["type"]}"' for name, t in targets.items()
    ]
    return ", ".join(parts)


# --- The views ----------------------------------------------------------------------------


class _AnyAccept(BaseContentNegotiation):
    """The resolver chooses its own answer by Accept; errors are JSON, never a 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


def _wants(request) -> str:
    """What the client asked for: linkset, link (?linkType= one type), json or html."""
    link_type = request.GET.get("linkType")
    if link_type in ("all", "linkset"):
        return "linkset"
    if link_type:
        return "link"
    preferred = request.get_preferred_type([HTML, JSON, LINKSET])
    return {JSON: "json", LINKSET: "linkset"}.get(preferred, "html")


def _redirect(location: str) -> HttpResponseRedirect:
    response = HttpResponseRedirect(location)
    response.status_code = 307  # GS1 resolvers answer 307: the next scan may go elsewhere
    return response


class DigitalLinkView(APIView):
    """GET /01/{GTIN}/21/{serial}: any requester; tokens and sessions give their tier."""

    permission_classes = [AllowAny]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AnyAccept

    @extend_schema(
        operation_id="digital_link_resolve",
        parameters=[
            OpenApiParameter(
                "linkType",
                str,
                description="`all`: the link set (RFC 9264); a GS1 link type such as "
                "`gs1:pip`: a redirect to that link",
            )
        ],
        responses={
            (200, "application/json"): OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="The passport as /api/passports/{identifier}/ gives it to you",
            ),
            (200, LINKSET): OpenApiResponse(OpenApiTypes.OBJECT, description="The link set"),
            307: OpenApiResponse(description="To the public page, or to the link asked for"),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Not a valid GTIN"),
            404: OpenApiResponse(OpenApiTypes.OBJECT, description="No such published battery"),
        },
    )
    def get(self, request, gtin: str, serial: str):
        gtin14 = normalised_gtin(gtin)
        wants = _wants(request)
        # Only the JSON answer depends on the tier: the others skip reading the grants.
        requester = access.requester_for(request.user) if wants == "json" else ANONYMOUS
        row = battery_row(requester, gtin14, serial, documents=wants == "json")
        if row is None:
            raise NotFound(
                f"No published battery passport with GTIN {gtin14} and serial {serial!r}."
            )
        anchor = digital_link(gtin14, serial)
        targets = links(row)
        if wants == "link":
            link_type = request.GET["linkType"]
            name = link_type_name(link_type)
            name = DEFAULT_LINK if name == "defaultLink" else name
            if name not in targets:
                raise NotFound(f"No link of type {link_type!r} for this battery.")
            response = _redirect(targets[name]["href"])
        elif wants == "linkset":
            response = JsonResponse(linkset(anchor, targets), content_type=LINKSET)
        elif wants == "json":
            roles = selectors.row_roles(requester, row)
            seen = selectors.as_seen(requester, row, roles=roles)
            data = _detail_serializer()(seen, context={"request": request}).data
            response = Response(data, headers={"ETag": selectors.row_etag(row, roles)})
        else:
            response = _redirect(targets[DEFAULT_LINK]["href"])
        response["Link"] = link_header(anchor, targets)
        patch_vary_headers(response, ["Accept"])
        return response


def _detail_serializer():
    # The API's own detail answer: the same fields, cut the same way (no second projection).
    from api.serializers.passports import PassportDetailSerializer

    return PassportDetailSerializer


@require_GET
def resolver_description(request) -> HttpResponse:
    """/.well-known/gs1resolver: what this resolver answers (GS1-Conformant Resolver 1.1)."""
    return JsonResponse(
        {
            "name": "Battery minerals compliance registry: battery passports",
            "resolverRoot": base_url(),
            "supportedPrimaryKeys": ["01"],
            "supportedSecondaryKeys": {"01": ["21"]},
            "supportedLinkType": [
                {"namespace": GS1, "prefix": "gs1:", "profile": f"{GS1}?show=linktypes"}
            ],
            "linkTypes": [f"gs1:{name}" for name in ("defaultLink", *LINKS)],
            "linkTypeDefaultCanBeLinkset": False,
            "supportedContextValues": [],
            "contentNegotiation": {HTML: "gs1:pip", JSON: "gs1:sustainabilityInfo", LINKSET: "all"},
        }
    )
