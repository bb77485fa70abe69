"""Multi-row inserts without model instances, for the app's hot paths.

``bulk_create`` builds a model instance per row and prepares every field of every row
through the field API; on SQLite it also splits the insert into statements of 999
parameters. Queuing and recording thousands of messages a second cannot afford that,
so these helpers take plain tuples, prepare only the columns whose Python value
differs from what the driver accepts (UUIDs on SQLite, datetimes, JSON), and send
all rows in one ``executemany`` call, or in one ``COPY`` on PostgreSQL with psycopg 3
(whose ``executemany`` formats every row as a separate literal query).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper

Converter = Callable[[Any], Any]


def column_converter(
    field: models.Field[Any, Any], connection: BaseDatabaseWrapper
) -> Converter | None:
    """How to turn one Python value of ``field`` into a driver value, or ``None``
    when the driver takes it as it is."""
    target = field.target_field if field.is_relation else field  # type: ignore[attr-defined]

    if isinstance(target, models.UUIDField):
        if connection.features.has_native_uuid_field:
            return None
        return _uuid_hex
    if isinstance(target, models.DateTimeField):
        adapt_datetime = connection.ops.adapt_datetimefield_value
        return _repeat_last(
            lambda value: None if value is None else adapt_datetime(value)
        )
    if isinstance(target, models.JSONField):
        adapt_json = connection.ops.adapt_json_value
        encoder = target.encoder
        return _repeat_last(lambda value: adapt_json(value, encoder))
    return None


def _repeat_last(convert: Converter) -> Converter:
    """``convert``, skipped when given the very object it converted last.

    Rows of one batch share their timestamps and empty headers, so most values of
    those columns are converted once rather than once per row.
    """
    last_value: Any = object()
    last_result: Any = None

    def converter(value: Any) -> Any:
        nonlocal last_value, last_result
        if value is not last_value:
            last_value, last_result = value, convert(value)
        return last_result

    return converter


def _uuid_hex(value: Any) -> Any:
    return None if value is None else value.hex


class RowInserter:
    """Inserts tuples of Python values into ``model``'s table, columns in ``fields``.

    The SQL and the per-column converters are built once; ``insert`` then costs one
    ``executemany`` however many rows it is given.
    """

    def __init__(
        self, model: type[models.Model], fields: Sequence[str], using: str = "default"
    ) -> None:
        self.connection = connections[using]
        meta = model._meta
        concrete: list[models.Field[Any, Any]] = []
        for name in fields:
            field = meta.get_field(name)
            if not isinstance(field, models.Field) or field.column is None:
                raise TypeError(f"{model.__name__}.{name} is not a concrete column")
            concrete.append(field)

        quote = self.connection.ops.quote_name
        columns = ", ".join(quote(str(field.column)) for field in concrete)
        placeholders = ", ".join(["%s"] * len(concrete))
        self.sql = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({placeholders})"
        )
        self.copy_sql = f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN"
        self.converters = [
            (index, converter)
            for index, field in enumerate(concrete)
            if (converter := column_converter(field, self.connection)) is not None
        ]

    def prepare(self, row: Sequence[Any]) -> Sequence[Any]:
        """``row`` with the columns that need it converted for the driver."""
        if not self.converters:
            return row
        prepared = list(row)
        for index, converter in self.converters:
            prepared[index] = converter(prepared[index])
        return prepared

    def insert(self, rows: Iterable[Sequence[Any]]) -> None:
        """Insert every row with one statement, inside the caller's transaction."""
        prepared = [self.prepare(row) for row in rows]
        if not prepared:
            return
        with self.connection.cursor() as cursor:
            driver_cursor = cursor.cursor
            if not hasattr(driver_cursor, "copy"):
                cursor.executemany(self.sql, prepared)
                return

            # Logged like any query, so query counts and debug tooling still see it.
            logged = getattr(cursor, "debug_sql", None)
            with (
                logged(self.copy_sql, many=True) if logged else nullcontext(),
                driver_cursor.copy(self.copy_sql) as copy,
            ):
                for row in prepared:
                    copy.write_row(row)
