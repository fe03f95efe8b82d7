"""Settings come from the environment and fail loudly on a bad value."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list


def test_env_helpers_read_typed_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    monkeypatch.setenv("X_LIST", "a, b,,c")
    assert env_bool("X_BOOL") is True
    assert env_int("X_INT", 0) == 42
    assert env_list("X_LIST") == ["a", "b", "c"]
    assert env_bool("X_UNSET", True) is True


@pytest.mark.parametrize(
    ("name", "value", "reader"),
    [
        ("X_BOOL", "maybe", lambda: env_bool("X_BOOL")),
        ("X_INT", "forty", lambda: env_int("X_INT", 0)),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(monkeypatch, name, value, reader):
    monkeypatch.setenv(name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        reader()


def _import_settings(**env):
    clean = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "SECRET_KEY")}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=settings.BASE_DIR,
        env=clean,
        capture_output=True,
        text=True,
    )


def test_secret_key_is_required_when_debug_is_off():
    result = _import_settings(DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
    assert _import_settings(DEBUG="0", SECRET_KEY="s3cret").returncode == 0


def test_postgres_url_gets_a_connection_pool():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import config.settings as s; print(s.DATABASES['default']['OPTIONS'].get('pool'))",
        ],
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        env={**os.environ, "DEBUG": "1", "DATABASE_URL": "postgresql://u@127.0.0.1:5432/db"},
    )
    assert "max_size" in result.stdout, result.stderr


def test_without_a_broker_celery_runs_tasks_in_process():
    if os.environ.get("CELERY_BROKER_URL"):
        pytest.skip("a broker is configured")
    assert settings.CELERY_TASK_ALWAYS_EAGER


def test_every_environment_variable_read_in_config_is_in_the_readme_table():
    import re

    base = settings.BASE_DIR
    pattern = re.compile(
        r"""(?:env_(?:str|bool|int|list)|os\.environ\.get)\(\s*["']([A-Z][A-Z0-9_]+)"""
    )
    read = {
        name
        for path in (base / "config").glob("*.py")
        for name in pattern.findall(path.read_text(encoding="utf-8"))
    }
    table = {
        name
        for line in (base / "README.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1])
    }
    assert len(read) > 20
    assert read - table == set()
