"""Writing an admitted job in one PostgreSQL statement: its hold, the job, its first event and its key.

Every statement is a round trip, and under a submission burst the round trips (each waiting for a
PostgreSQL backend to be scheduled) cost more than the work. Data-modifying WITH clauses run as one
statement, atomically even outside a transaction: the conditional UPDATE of the budget row (which locks
it, and is re-checked after waiting on a concurrent hold) feeds the job's INSERT, so a job is written
only with its hold, and its event and Idempotency-Key only with the job. A key already used makes the
whole statement fail with IntegrityError, writing nothing.
"""

import functools

from django.db import connection
from django.db.models import Model

from quotas.holds import hold_try_sql
from scheduler.models import Job, JobEvent, SubmissionKey


@functools.cache
def _insert_shape(model: type[Model], source_column: str | None) -> tuple[str, str, tuple]:
    """``(table and column list, value list, fields given as parameters)`` for _insert_from, built once
    per model: quoting names and asking each field for its cast was most of the cost of building it."""
    quote = connection.ops.quote_name
    columns, values, fields = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(quote(field.column))
        if field.column == source_column:
            values.append("{source}.id")
        else:
            values.append(f"%s::{field.cast_db_type(connection)}")
            fields.append(field)
    return f"{quote(model._meta.db_table)} ({', '.join(columns)})", ", ".join(values), tuple(fields)


def _insert_from(obj: Model, source: str, *, source_column: str | None = None) -> tuple[str, list]:
    """``INSERT … SELECT … FROM source`` for ``obj``, one row per row of ``source`` (none: nothing).

    ``source_column`` (a foreign key's column) takes ``source.id`` instead of the object's value.
    Parameters are cast to their columns' types: in a SELECT list PostgreSQL would not infer them.
    """
    into, values, fields = _insert_shape(type(obj), source_column)
    params = [field.get_db_prep_save(field.pre_save(obj, add=True), connection) for field in fields]
    return f"INSERT INTO {into} SELECT {values.replace('{source}', source)} FROM {source}", params


def admit_in_one_statement(*, job: Job, event: JobEvent, key: SubmissionKey | None) -> bool:
    """Hold ``job.hold_gpu_seconds`` and write ``job``, ``event`` and ``key`` (True), or nothing (False).

    False means the hold was refused (no budget of that GPU type, or too little left). On True the
    objects carry their new primary keys.
    """
    hold_sql, hold_params = hold_try_sql(
        allocation_id=job.allocation_id, gpu_type=job.gpu_type, gpu_seconds=job.hold_gpu_seconds
    )
    job_sql, job_params = _insert_from(job, "hold")
    event_sql, event_params = _insert_from(event, "new_job", source_column="job_id")
    parts = [f"WITH hold AS ({hold_sql}), new_job AS ({job_sql} RETURNING id), new_event AS ({event_sql})"]
    params = [*hold_params, *job_params, *event_params]
    if key is None:
        parts.append("SELECT id FROM new_job")
    else:
        key_sql, key_params = _insert_from(key, "new_job", source_column="job_id")
        parts.append(f"{key_sql} RETURNING job_id")
        params += key_params
    with connection.cursor() as cursor:
        cursor.execute(" ".join(parts), params)
        row = cursor.fetchone()
    if row is None:
        return False
    job.pk = row[0]
    event.job_id = row[0]
    for obj in (job, key) if key is not None else (job,):
        obj._state.adding, obj._state.db = False, connection.alias
    if key is not None:
        key.job_id = row[0]
    return True
