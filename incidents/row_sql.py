"""Single-row statements for what every create runs (the attempt, its audit entries, the
project it is for), built once per model and field list instead of on every call.

The ORM compiles each statement anew: 0.3 to 0.8 ms of CPU per row here, several times what the
database takes to answer it (bench/create_cost.py). These send the same statements with the
same values: writes go through each field's own `pre_save` and `get_db_prep_save`, as `save()`
does, and reads through the converters a queryset applies, so auto_now times, foreign keys,
JSON, UUIDs, booleans and encrypted values are exactly what the ORM gives. No model signals
are sent (the console listens to none on these models). Table and column names come from the
models' metadata, never from input, hence the `noqa: S608`.
"""

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any, TypeVar, cast

from django.db import DatabaseError, connection
from django.db.models import Field, Model

Converter = Callable[[Any, Any, Any], Any]
M = TypeVar("M", bound=Model)


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


def select_list(model: type[Model], alias: str) -> str:
    """The columns `instance_from_row` reads, for a SELECT naming the table `alias`."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


@cache
def _readers(model: type[Model]) -> tuple[tuple[str, ...], tuple[tuple[Any, list[Converter]], ...]]:
    fields = model._meta.concrete_fields
    readers = []
    for field in fields:
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        readers.append((column, converters))
    return tuple(field.attname for field in fields), tuple(readers)


def instance_from_row(model: type[M], row: Sequence[Any]) -> M:
    """The instance for a row of `select_list(model, …)`'s columns, as a queryset builds it."""
    attnames, readers = _readers(model)
    values = []
    for value, (column, converters) in zip(row, readers, strict=True):
        for convert in converters:
            value = convert(value, column, connection)
        values.append(value)
    return model.from_db(connection.alias, attnames, values)
