from django.apps import AppConfig
from django.core import checks


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts and API tokens"

    def ready(self):
        from config.checks import shared_cache

        checks.register(shared_cache, checks.Tags.caches, deploy=True)
