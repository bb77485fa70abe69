"""Multi-row inserts without model instances, for the app's hot paths.

``bulk_create`` builds a model instance per row and prepares every field of every row
through the field API; on SQLite it also splits the insert into statements of 999
parameters. Queuing and recording thousands of messages a second cannot afford that,
so these helpers take plain tuples, prepare only the columns whose Python value
differs from what the driver accepts (UUIDs on SQLite, datetimes, JSON), and send
all rows in one ``executemany`` call, or in one ``COPY`` on PostgreSQL with psycopg 3
(whose ``executemany`` formats every row as a separate literal query).

Rows that may already exist (``insert(..., ignore_conflicts=True)``) cannot go through
``COPY``, which has no conflict clause; on psycopg 3 they are sent as one multi-row
``INSERT ... VALUES (...), (...) ON CONFLICT DO NOTHING`` instead, which costs about
twice as much, so callers ask for it only when a conflict is possible.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from typing import Any

from django.db import connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.constants import OnConflict

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


_MASK_62 = (1 << 62) - 1


def ordered_uuid_hexes(count: int) -> list[str]:
    """``count`` new UUIDs as 32 hex digits, ascending: version 7 of RFC 9562.

    The first 48 bits are the time in milliseconds; the other 74 are a random start
    drawn once per call plus the id's index. So the messages of one batch get ids in
    position order, and each index on them (the primary key, ``Delivery.message``)
    grows at one end instead of taking a write on a random page per message.
    Hex digits are what Django stores on SQLite and what PostgreSQL's ``uuid`` reads,
    so no ``UUID`` object is built per message.
    """
    prefix = (time.time_ns() // 1_000_000) << 80 | 7 << 76 | 2 << 62
    start = int.from_bytes(os.urandom(10), "big") >> 7
    return [
        f"{prefix | (value >> 62) << 64 | value & _MASK_62:032x}"
        for value in range(start, start + count)
    ]


def _uuid_hex(value: Any) -> Any:
    """A UUID as the 32 hex digits Django stores; text is taken to be that already."""
    return value if value is None or isinstance(value, str) else value.hex


class RowInserter:
    """Inserts tuples of Python values into ``model``'s table, columns in ``fields``.

    The SQL and the per-column converters are built once; ``insert`` then costs one
    statement however many rows it is given.
    """

    def __init__(
        self,
        model: type[models.Model],
        fields: Sequence[str],
        using: str = "default",
    ) -> None:
        self.connection = connections[using]
        meta = model._meta
        concrete: list[models.Field[Any, Any]] = []
        for name in fields:
            field = meta.get_field(name)
            if not isinstance(field, models.Field) or field.column is None:
                raise TypeError(f"{model.__name__}.{name} is not a concrete column")
            concrete.append(field)

        ops = self.connection.ops
        quote = ops.quote_name
        columns = ", ".join(quote(str(field.column)) for field in concrete)
        placeholders = ", ".join(["%s"] * len(concrete))
        table = quote(meta.db_table)
        self.sql = f"INSERT INTO {table} ({columns}) VALUES ({placeholders})"

        # The conflict-ignoring statement, as many rows as needed after VALUES.
        self._width = len(concrete)
        self._row_sql = f"({placeholders})"
        self._ignore_sql = (
            f"{ops.insert_statement(on_conflict=OnConflict.IGNORE)} {table} "
            f"({columns}) VALUES {{}} "
            + (ops.on_conflict_suffix_sql([], OnConflict.IGNORE, [], []) or "")
        ).rstrip()
        self._ignore_sql_by_count: dict[int, str] = {}
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

    def insert(
        self, rows: Iterable[Sequence[Any]], *, ignore_conflicts: bool = False
    ) -> None:
        """Insert every row with one statement, inside the caller's transaction.

        With ``ignore_conflicts``, rows that would break a unique constraint are
        skipped, as ``bulk_create(ignore_conflicts=True)`` does.
        """
        prepared = [self.prepare(row) for row in rows]
        if not prepared:
            return
        with self.connection.cursor() as cursor:
            driver_cursor = cursor.cursor
            if not hasattr(driver_cursor, "copy"):
                sql = self._ignoring_sql(1) if ignore_conflicts else self.sql
                cursor.executemany(sql, prepared)
                return
            if ignore_conflicts:
                self._insert_values(cursor, prepared)
                return

            # Logged like any query, so query counts and debug tooling still see it,
            # and its errors raised as Django's (IntegrityError...) like any query's.
            logged = getattr(cursor, "debug_sql", None)
            with (
                logged(self.copy_sql, many=True) if logged else nullcontext(),
                self.connection.wrap_database_errors,
                driver_cursor.copy(self.copy_sql) as copy,
            ):
                for row in prepared:
                    copy.write_row(row)

    def _insert_values(self, cursor: Any, prepared: list[Sequence[Any]]) -> None:
        """One multi-row ``INSERT`` per ``max_query_params`` worth of values."""
        limit = self.connection.features.max_query_params or 65_535
        per_statement = max(limit // self._width, 1)
        for start in range(0, len(prepared), per_statement):
            page = prepared[start : start + per_statement]
            cursor.execute(
                self._ignoring_sql(len(page)),
                [value for row in page for value in row],
            )

    def _ignoring_sql(self, count: int) -> str:
        """The conflict-ignoring ``INSERT`` for ``count`` rows, built once per count."""
        sql = self._ignore_sql_by_count.get(count)
        if sql is None:
            sql = self._ignore_sql.format(", ".join([self._row_sql] * count))
            self._ignore_sql_by_count[count] = sql
        return sql
