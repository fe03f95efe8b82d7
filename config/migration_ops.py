"""Migration operations that do not lock a large table for long.

`AddIndexConcurrently` builds the index with `CREATE INDEX CONCURRENTLY` on PostgreSQL
(writes go on while it builds) and with a plain `CREATE INDEX` elsewhere (SQLite has no
such option, and its databases are small). Django's own operation of that name works
on PostgreSQL only. A migration using it must set `atomic = False`: PostgreSQL refuses
CONCURRENTLY inside a transaction.
"""

from __future__ import annotations

from django.db import NotSupportedError
from django.db.migrations.operations import AddIndex, RunPython


def _concurrently(schema_editor) -> bool:
    if schema_editor.connection.vendor != "postgresql":
        return False
    if schema_editor.connection.in_atomic_block and not schema_editor.collect_sql:
        raise NotSupportedError(
            "CREATE INDEX CONCURRENTLY cannot run in a transaction: set atomic = False "
            "on the migration."
        )
    return True


class AddIndexConcurrently(AddIndex):
    """AddIndex, concurrently on PostgreSQL. The migration state is that of AddIndex."""

    atomic = False

    def describe(self) -> str:
        return f"Concurrently create index {self.index.name} on {self.model_name}"

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if _concurrently(schema_editor):
            schema_editor.add_index(model, self.index, concurrently=True)
        else:
            schema_editor.add_index(model, self.index)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        model = from_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if _concurrently(schema_editor):
            schema_editor.remove_index(model, self.index, concurrently=True)
        else:
            schema_editor.remove_index(model, self.index)


def trigram_indexes(indexes: list[tuple[str, str, str]]):
    """A RunPython operation building pg_trgm GIN indexes on `UPPER(column::text)` (what
    Django's `icontains` compares), CONCURRENTLY; nothing on SQLite. `indexes`: (name,
    table, column). The migration must set `atomic = False`."""

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for name, table, column in indexes:
            schema_editor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} "
                f'USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
            )

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for name, _table, _column in indexes:
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")

    return RunPython(forwards, backwards, elidable=False)
