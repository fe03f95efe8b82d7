from django.apps import AppConfig


class PassportsConfig(AppConfig):
    name = "passports"
    verbose_name = "Battery passports"
