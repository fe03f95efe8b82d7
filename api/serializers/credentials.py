"""Answers of the credential routes (their OpenAPI schema)."""

from rest_framework import serializers


class PassportCredentialSerializer(serializers.Serializer):
    format = serializers.CharField(help_text="vc+sd-jwt: an SD-JWT over a W3C VC 2.0")
    version = serializers.IntegerField(help_text="The passport version the credential is of")
    tier = serializers.CharField(help_text="The access tier whose disclosures are included")
    credential = serializers.CharField(
        help_text="<issuer-signed JWT>~<disclosure>~...~ with only your tier's disclosures"
    )


class AttestationCredentialSerializer(serializers.Serializer):
    format = serializers.CharField(help_text="vc+sd-jwt: an SD-JWT over a W3C VC 2.0")
    credential = serializers.CharField(help_text="<issuer-signed JWT>~ (nothing to disclose)")
