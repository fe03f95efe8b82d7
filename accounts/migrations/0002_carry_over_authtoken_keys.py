"""Carry rest_framework.authtoken keys over to hashed API tokens, then erase the raw keys.

authtoken kept each key in clear in `authtoken_token`; here each becomes an ApiToken with
the key's SHA-256 (so `Authorization: Token <old key>` keeps working until it expires, 90
days after this migration) and the rows of `authtoken_token` are deleted, so no raw key is
left in the database. The (empty) table itself is left to a DBA: `DROP TABLE
authtoken_token;` once no older release runs against this database. Not reversible: the
raw keys are gone.
"""

import datetime as dt
import hashlib

from django.db import migrations
from django.utils import timezone
from django.utils.dateparse import parse_datetime

LEGACY_TABLE = "authtoken_token"
CARRIED_DAYS = 90


def carry_over(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return  # a database that never had authtoken
    ApiToken = apps.get_model("accounts", "ApiToken")
    HistoricalApiToken = apps.get_model("accounts", "HistoricalApiToken")
    now = timezone.now()
    table = connection.ops.quote_name(LEGACY_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "key", user_id, created FROM {table}')
        rows = cursor.fetchall()
    for key, user_id, created in rows:
        if isinstance(created, str):  # SQLite hands raw timestamps back as text
            created = parse_datetime(created)
        if created is not None and timezone.is_naive(created):
            created = timezone.make_aware(created, dt.UTC)
        token = ApiToken.objects.create(
            user_id=user_id,
            name="carried over from authtoken",
            prefix=key[:8],
            digest=hashlib.sha256(key.encode()).hexdigest(),
            created_at=created or now,
            expires_at=now + dt.timedelta(days=CARRIED_DAYS),
        )
        HistoricalApiToken.objects.create(
            id=token.pk,
            user_id=user_id,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            expires_at=token.expires_at,
            history_date=now,
            history_type="+",
            history_change_reason="carried over from rest_framework.authtoken (hashed)",
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [migrations.RunPython(carry_over, migrations.RunPython.noop, elidable=True)]
