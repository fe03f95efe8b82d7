from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from accounts import selectors, services
from accounts.models import ApiToken
from api.serializers import accounts as s


class ApiTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Your own API tokens. A new token's value is in the creation answer only (it is
    stored as a hash); DELETE revokes a token (its record stays, revoked)."""

    serializer_class = s.ApiTokenSerializer
    permission_classes = [IsAuthenticated]
    filterset_fields = {
        "name": ["exact"],
        "created_at": ["gte", "lte"],
        "expires_at": ["gte", "lte"],
        "revoked_at": ["isnull"],
        "last_used_at": ["gte", "isnull"],
    }
    search_fields = ["name", "prefix"]
    unfiltered_fields = {
        "user": "always the requester: one sees only one's own tokens",
        "digest": "a hash of the secret: never shown, never searched",
    }
    queryset = ApiToken.objects.none()  # for the schema; get_queryset is per requester
    ordering = ("-created_at", "-pk")

    def get_queryset(self):
        return selectors.tokens_of(self.request.user)

    @extend_schema(request=s.ApiTokenCreateSerializer, responses={201: s.IssuedTokenSerializer})
    def create(self, request):
        body = s.ApiTokenCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = services.issue_token(request.user, **body.validated_data)
        data = s.IssuedTokenSerializer(issued.token).data
        data["token"] = issued.raw
        # The raw token is in this answer: no cache may keep it.
        return Response(data, status=status.HTTP_201_CREATED, headers={"Cache-Control": "no-store"})

    @extend_schema(responses={204: None})
    def destroy(self, request, pk=None):
        try:
            services.revoke_token(request.user, int(pk))
        except (ApiToken.DoesNotExist, ValueError):
            raise NotFound("No such token of yours.") from None
        return Response(status=status.HTTP_204_NO_CONTENT)
