import functools
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.test import APIClient

from datasets.demo import load_demo_registry
from passports.reference import load_attributes
from registry.production import load_production
from registry.reference import load_expectation_profiles, load_rules
from taxonomy.services import load_standards


def load_test_reference() -> None:
    load_standards()
    load_expectation_profiles()
    load_attributes()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The reference taxonomy is loaded once per test database; tests roll back over it."""
    with django_db_blocker.unblock():
        load_test_reference()


@pytest.fixture(scope="module")
def reference_reloaded_after(django_db_blocker):
    """Transactional tests empty the database after them: put the reference data back
    once the module is done, for the modules that follow."""
    yield
    with django_db_blocker.unblock():
        load_test_reference()


def reset_to_reference() -> None:
    """Empty every table and load the test reference data again (after committed data)."""
    call_command("flush", interactive=False, verbosity=0)
    load_test_reference()


@pytest.fixture(scope="module")
def demo_registry(django_db_setup, django_db_blocker):
    """The whole demo registry (as `make run` loads it), once per module; tests roll back
    over it and the module's end removes it."""
    with django_db_blocker.unblock():
        load_rules()
        load_production()
        counts = load_demo_registry()
    assert counts is not None, "the test database already held registry data"
    yield counts
    with django_db_blocker.unblock():
        reset_to_reference()


@functools.cache
def credential_keys() -> str:
    """A credential signing key set made for this test run (never one from the repository)."""
    from credentials.keys import new_key_set

    return json.dumps(new_key_set())


@pytest.fixture(autouse=True)
def test_settings(settings, tmp_path):
    """Evidence files go to a per-test folder; passwords hash fast; credentials
    are signed with the run's own key."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CREDENTIAL_SIGNING_KEYS = credential_keys()


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("root", "root@example.org", "pw-root-123")


@pytest.fixture
def world(db):
    """A battery manufacturer, an economic operator and a user for each access tier."""
    from .passport_fixtures import World

    return World()
