import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from passports.reference import load_attributes
from registry.reference import load_expectation_profiles
from taxonomy.services import load_standards


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """The reference taxonomy is loaded once per test database; tests roll back over it."""
    with django_db_blocker.unblock():
        load_standards()
        load_expectation_profiles()
        load_attributes()


@pytest.fixture(autouse=True)
def test_settings(settings, tmp_path):
    """Evidence files go to a per-test folder; passwords hash fast."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


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
