"""Querysets compiled to SQL once per process and database, then run with new values.

Every API request reads its API key, and every job submission its allocation. Compiling those querysets
(resolving lookups, joins, select_related columns, annotations) was about a quarter of a submission's
Python time (docs/benchmarks.md, section 6), and Django compiles afresh on every call. A PreparedQuery
builds its queryset once per database, with a marker value in the place of each parameter, finds where
the markers land among the compiled parameters, and from then on binds new values into that SQL and turns
the row into model instances as Django's own ModelIterable does (select_related objects, converters,
annotations). What is read stays written as an ordinary queryset; only the compiling is saved.

Nothing is cached but the SQL and how to read its rows: every call runs the query.
"""

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    slots: tuple[tuple[int, str, Callable[[Any], Any]], ...]  # (parameter index, name, value → db value)
    converters: tuple
    col_count: int
    model: type[Model]
    fields: slice
    init_list: tuple[str, ...]
    related_populators: tuple
    annotations: tuple[tuple[str, int], ...]


class PreparedQuery:
    """``build(**markers)`` → the queryset; ``first(**values)``: its first row (by primary key where the
    queryset has no order) as a model instance, or None — what ``build(**values).first()`` returns.

    Each marker must be a value of its parameter's type that no other parameter of the query has (strings
    and UUIDs are supported), and must reach the SQL as exactly one parameter.
    """

    def __init__(self, build: Callable[..., QuerySet], **markers: str | uuid.UUID):
        self._build, self._markers = build, markers
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def first(self, using: str = "default", **values) -> Model | None:
        if values.keys() != self._markers.keys():
            raise TypeError(f"expected the values {sorted(self._markers)}, got {sorted(values)}")
        compiled = self._compiled.get(using) or self._compile(using)
        params = list(compiled.params)
        for index, name, to_db in compiled.slots:
            params[index] = to_db(values[name])
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        row = list(row[: compiled.col_count])
        for position, (converters, expression) in compiled.converters:
            value = row[position]
            for converter in converters:
                value = converter(value, expression, connection)
            row[position] = value
        obj = compiled.model.from_db(using, compiled.init_list, row[compiled.fields])
        for populator in compiled.related_populators:
            populator.populate(row, obj)
        for name, position in compiled.annotations:
            setattr(obj, name, row[position])
        return obj

    def _compile(self, using: str) -> _Compiled:
        with self._lock:
            if using in self._compiled:
                return self._compiled[using]
            queryset = self._build(**self._markers)
            queryset = (queryset if queryset.ordered else queryset.order_by("pk"))[:1]
            compiler = queryset.query.get_compiler(using=using)
            sql, params = compiler.as_sql()
            slots = tuple(self._slot(name, marker, params) for name, marker in self._markers.items())
            select, klass_info = compiler.select, compiler.klass_info
            first, last = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
            compiled = _Compiled(
                sql=sql,
                params=tuple(params),
                slots=slots,
                converters=tuple(
                    compiler.get_converters([column[0] for column in select[: compiler.col_count]]).items()
                ),
                col_count=compiler.col_count,
                model=klass_info["model"],
                fields=slice(first, last),
                init_list=tuple(column[0].target.attname for column in select[first:last]),
                related_populators=tuple(get_related_populators(klass_info, select, using)),
                annotations=tuple(compiler.annotation_col_map.items()),
            )
            self._compiled[using] = compiled
            return compiled

    @staticmethod
    def _slot(name: str, marker, params) -> tuple[int, str, Callable[[Any], Any]]:
        # How the marker reached the SQL says how to pass a value: a UUID field gives PostgreSQL the UUID
        # and SQLite its hex digits.
        found = []
        for index, param in enumerate(params):
            if param == marker:
                found.append((index, name, _same_type(marker)))
            elif isinstance(marker, uuid.UUID) and param == marker.hex:
                found.append((index, name, lambda value: _uuid(value).hex))
        if len(found) != 1:
            raise ValueError(f"the marker of {name!r} reached the SQL {len(found)} times, not once")
        return found[0]


def _same_type(marker) -> Callable[[Any], Any]:
    if isinstance(marker, uuid.UUID):
        return _uuid
    if isinstance(marker, str):
        return str
    raise TypeError(f"unsupported marker type {type(marker).__name__}")


def _uuid(value) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
