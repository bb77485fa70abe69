"""Reading a batch's pending messages as plain tuples, page by page.

The dispatcher reads every message it sends exactly once, so this is a hot path:
``QuerySet.values_list`` costs tens of microseconds a row, most of it running every
column's database converters whether or not the value needs one. Here the SQL is
written once per run and only the columns that need converting (JSON headers,
datetimes, booleans) are converted, and only when they are not ``NULL``. Ids are
left as the database returns them (``UUID`` on PostgreSQL, hex text on SQLite).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Field

from django_qstash_batch.models import Batch, Message, MessageStatus, Topic
from django_qstash_batch.wire import MESSAGE_FIELDS, POSITION

Converter = Callable[[Any, Any, Any], Any]

_TOPIC = MESSAGE_FIELDS.index("topic__name")


class PendingReader:
    """Keyset pages of a batch's pending messages, as :data:`MESSAGE_FIELDS` tuples.

    Each page is one query: ``position > <last position read>``, in position order,
    at most ``page_size`` rows.
    """

    def __init__(self, batch_id: UUID, page_size: int) -> None:
        self.batch_id = batch_id
        self.page_size = page_size
        quote = connection.ops.quote_name
        message = quote(Message._meta.db_table)

        # The topic's id is read instead of joining its name in: with a join, a
        # planner working from stale statistics (a batch inserted a moment ago)
        # may sort every remaining row for each page instead of walking the index.
        # The status is written as a literal, not a parameter, so that SQLite sees
        # the query matches the partial index of pending messages.
        columns = []
        self._converters: list[tuple[int, list[Converter], Any]] = []
        for index, name in enumerate(MESSAGE_FIELDS):
            field = _concrete(Message, "topic" if name == "topic__name" else name)
            columns.append(f"{message}.{quote(str(field.column))}")
            # Ids stay as the database returns them: they only go back to it, and
            # into the deduplication id (see wire.uuid_text).
            if name not in ("topic__name", "id"):
                self._add_converters(index, field)
        self._topic_names: dict[Any, str] = {}

        self.sql = (
            f"SELECT {', '.join(columns)} FROM {message} "
            f"WHERE {message}.{quote('batch_id')} = %s "
            f"AND {message}.{quote('status')} = '{MessageStatus.PENDING}' "
            f"AND {message}.{quote('position')} > %s "
            f"ORDER BY {message}.{quote('position')} ASC LIMIT %s"
        )
        self._batch_id = _concrete(Batch, "id").get_db_prep_value(batch_id, connection)

    def _add_converters(self, index: int, field: Field[Any, Any]) -> None:
        expression = field.get_col(field.model._meta.db_table)
        converters = [
            *connection.ops.get_db_converters(expression),
            *expression.get_db_converters(connection),
        ]
        if converters:
            self._converters.append((index, converters, expression))

    def query(self, after: int) -> tuple[str, list[Any]]:
        """The SQL and parameters of the page after position ``after``."""
        return self.sql, [self._batch_id, after, self.page_size]

    def page(self, after: int) -> list[tuple[Any, ...]]:
        """Up to ``page_size`` pending rows whose position is above ``after``."""
        with connection.cursor() as cursor:
            cursor.execute(*self.query(after))
            rows = cursor.fetchall()
        names = self._names_of({row[_TOPIC] for row in rows} - {None})
        converted = []
        for row in rows:
            values = list(row)
            if values[_TOPIC] is not None:
                values[_TOPIC] = names[values[_TOPIC]]
            for index, converters, expression in self._converters:
                value = values[index]
                if value is None:
                    continue
                for convert in converters:
                    value = convert(value, expression, connection)
                values[index] = value
            converted.append(tuple(values))
        return converted

    def _names_of(self, topic_ids: set[Any]) -> dict[Any, str]:
        """Topic names by id, each looked up once per run."""
        missing = topic_ids - self._topic_names.keys()
        if missing:
            self._topic_names.update(
                Topic.objects.filter(pk__in=missing).values_list("pk", "name")
            )
        return self._topic_names

    def rows(self) -> Iterator[tuple[Any, ...]]:
        """Every pending row, in position order, a page at a time."""
        after = -1
        while True:
            page = self.page(after)
            yield from page
            if len(page) < self.page_size:
                return
            after = page[-1][POSITION]


def _concrete(model: type[Batch | Message], name: str) -> Field[Any, Any]:
    """The concrete field ``name`` of ``model``."""
    field = model._meta.get_field(name)
    if not isinstance(field, Field):
        raise TypeError(f"{model.__name__}.{name} is not a concrete field")
    return field
