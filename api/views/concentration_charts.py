"""The concentration series (published HHI per year) and the mine-to-refinery flows, as
JSON: public reads, like the concentration route. Thin: the answers come from
registry.concentration.chain. Both download as CSV / XLSX (`?format=`), rows being the
table beside their chart on the concentration page."""

from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from api.downloads import Table, downloadable
from api.fields import query_data
from api.serializers import concentration_charts as s
from api.views.registry import KEPT_PENDING
from registry import kept
from registry.concentration import ConcentrationInputError, hhi_rule
from registry.concentration.chain import hhi_series
from registry.models import Company
from registry.querysets import Requester

ALWAYS_ALLOWED = {"format"}  # content negotiation, read by DRF itself


def _params(request, serializer_class) -> dict:
    """Validated query parameters; one the route does not take is refused by name rather
    than ignored (a misspelt `fringe` would otherwise answer another convention)."""
    data = query_data(request, ())
    unknown = sorted(set(data) - set(serializer_class().fields) - ALWAYS_ALLOWED)
    if unknown:
        raise ConcentrationInputError(
            f"This route does not take {', '.join(unknown)}", field=unknown[0]
        )
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def series_rows(view, request, data) -> list[dict]:
    """One row per line and year: the series table of the page, made flat."""
    return [
        {key: line[key] for key in ("stage", "product", "unit", "source")} | point
        for line in data["series"]
        for point in line["points"]
    ]


SERIES_COLUMNS = ("stage", "product", "unit", "year", "hhi", "hhi_low", "hhi_high")
SERIES_COLUMNS += tuple(f"band.{name}" for name in s.BandSerializer().fields)
SERIES_COLUMNS += ("total", "coverage_pct", "low_coverage", "source", "note")


@downloadable(
    get=Table(
        name=lambda view: f"hhi-series-{view.request.query_params.get('mineral', '')}",
        rows=series_rows,
        columns=SERIES_COLUMNS,
    )
)
class ConcentrationSeriesView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(parameters=[s.SeriesQuerySerializer], responses=s.SeriesSerializer)
    def get(self, request):
        """HHI of published production per recorded year: one line per stage and product
        (or the one asked), each point with its band, coverage and bounds, each line with
        its unit and source. Queries: one for the lines, one per line."""
        p = _params(request, s.SeriesQuerySerializer)
        convention = {"denominator": p["denominator"], "fringe": p["fringe"]}
        series = hhi_series(
            mineral=p["mineral"].code,
            stage=p.get("stage"),
            product=p.get("product"),
            rule=p.get("thresholds") or hhi_rule(),
            **convention,
        )
        lines = [
            {
                "stage": line.stage,
                "product": line.product,
                "unit": line.unit,
                "source": line.source,
                "points": [{"year": year, **vars(c)} for year, c in line.points],
            }
            for line in series
        ]
        return Response(
            s.SeriesSerializer(
                {"mineral": p["mineral"].code, "convention": convention, "series": lines}
            ).data
        )


@downloadable(
    get=Table(
        name=lambda view: f"mine-to-refinery-{view.request.query_params.get('mineral', '')}",
        rows="flows",
        serializer=s.ChainFlowSerializer,
    )
)
class MineToRefineryView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(
        parameters=[s.MineToRefineryQuerySerializer],
        responses={200: s.MineToRefinerySerializer, 202: KEPT_PENDING},
    )
    def get(self, request):
        """Mined tonnes from each country of mining to each country of refining, from the
        registry's mine-to-processor links (one aggregate query). `demo` and `label` say
        when a flow rests on demo records ("illustrative (demo data)"); recycled black
        mass is kept apart from mining. Above a small registry the answer comes from a
        kept result (`computed_at`, `stale`); the first time, a 202 with Retry-After."""
        p = _params(request, s.MineToRefineryQuerySerializer)
        as_of = p.get("as_of")
        served = kept.serve(
            "mine_to_refinery",
            {"mineral": p["mineral"].code, "as_of": as_of.isoformat() if as_of else None},
            Requester.for_user(request.user),
            population=Company.objects.count,
            rows=slice(0, 0),
        )
        body = {
            **served.payload,
            "computed_at": served.computed_at if served.kept else None,
            "stale": served.stale,
        }
        # The payload is the MineToRefinery dataclass as JSON (kept or computed now), the
        # shape MineToRefinerySerializer documents: not walked again field by field (up to
        # a country pair per flow, 0.2 MB at 50,000 companies).
        return Response(body)
