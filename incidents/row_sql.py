"""One-row INSERT and UPDATE for the create path (the attempt, its audit entries), built once
per model and field list instead of on every call.

`Model.save()` compiles its statement each time: about 0.5 ms of CPU per row here, more than
the database takes to write it (bench/create_cost.py). These send the same statement with the
same values: each goes through its field's own `pre_save` and `get_db_prep_save`, as `save()`
does, so auto_now times, foreign keys, JSON and UUIDs reach the database exactly as before. No
model signals are sent (the console listens to none on these models). Table and column names
come from the models' metadata, never from input, hence the `noqa: S608`.
"""

from functools import cache
from typing import cast

from django.db import DatabaseError, connection
from django.db.models import Field, Model


@cache
def _insert_statement(model: type[Model]) -> tuple[str, tuple[Field, ...]]:
    meta = model._meta
    fields = tuple(field for field in meta.local_concrete_fields if field is not meta.auto_field)
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders}) "  # noqa: S608
        f"RETURNING {quote(meta.pk.column)}"
    )
    return sql, fields


@cache
def _update_statement(model: type[Model], names: tuple[str, ...]) -> tuple[str, tuple[Field, ...]]:
    meta = model._meta
    fields = tuple(cast(Field, meta.get_field(name)) for name in names)
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    table, key = quote(meta.db_table), quote(meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {key} = %s"  # noqa: S608
    return sql, fields


def _db_value(field: Field, instance: Model, *, add: bool):
    return field.get_db_prep_save(field.pre_save(instance, add), connection)


def insert(instance: Model) -> None:
    """INSERT `instance` as `instance.save()` would for a new row, and set its primary key."""
    sql, fields = _insert_statement(type(instance))
    params = [_db_value(field, instance, add=True) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        instance.pk = cursor.fetchone()[0]
    instance._state.adding = False
    instance._state.db = connection.alias


def update(instance: Model, field_names: list[str]) -> None:
    """UPDATE `field_names` of `instance`'s row as `instance.save(update_fields=...)` would
    (auto_now fields among them take the current time); DatabaseError if no row has its key."""
    sql, fields = _update_statement(type(instance), tuple(field_names))
    params = [_db_value(field, instance, add=False) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, instance.pk])
        if cursor.rowcount != 1:
            raise DatabaseError(f"{type(instance).__name__} {instance.pk} was not updated.")
