"""The Asset Administration Shell export and import (passports/aas.py)."""

from rest_framework import serializers

from .passports import ExportSerializer, ImportSerializer


class AasEnvironmentSerializer(ExportSerializer):
    """An AAS metamodel v3.0 environment (JSON serialization): one shell for the battery and
    one submodel per Battery Pass aspect (semanticIds
    https://admin-shell.io/idta/BatteryPassport/<Part>/1/0, after IDTA-02035), holding only
    the attributes your tier may see."""

    assetAdministrationShells = serializers.ListField(  # noqa: N815 (the AAS member name)
        child=serializers.DictField(), help_text="The battery's shell"
    )
    submodels = serializers.ListField(  # noqa: N815
        child=serializers.DictField(), required=False, help_text="One per aspect you may see"
    )


class AasImportSerializer(ImportSerializer):
    document = None  # the environment carries it
    environment = serializers.DictField(
        help_text="An AAS v3.0 environment as GET .../export/aas/ answers it"
    )
