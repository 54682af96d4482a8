"""Jobs: submit (idempotent with Idempotency-Key), list, read, cancel, events, logs."""

import uuid

from django.conf import settings
from django.db import connection
from django.db.models import OuterRef
from django.utils.translation import gettext
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from portal.api.common import get_visible, paginate
from portal.api.serializers.jobs import (
    JOB_STATES,
    JobEventOut,
    JobIn,
    JobLogsOut,
    JobOut,
    job_in_validated,
    job_out_data,
)
from portal.api.shedding import SLOT_TAKEN
from portal.api.throttling import (
    BatchedThrottles,
    OrganisationSubmitThrottle,
    submission_slot_release,
    submission_slot_take,
)
from portal.errors import InvalidInput
from portal.organisations.selectors import memberships_read_once, organisation_ids_subquery
from scheduler import services
from scheduler.backends import get_backend
from scheduler.models import JobKind
from scheduler.queue_view import queue_view_of_size
from scheduler.selectors import allocation_to_submit_against, job_events, jobs_visible_to

# The same expression every time: the key's query is compiled once per set of names (api_key_authenticate).
_READ_WITH_THE_KEY = {"organisation_ids": organisation_ids_subquery(OuterRef("user_id"))}


class JobListCreate(BatchedThrottles, APIView):
    # Submissions are also limited per organisation, and per process at once (portal/api/throttling.py);
    # the throttles' counters are read and written in one round trip each.
    throttle_classes = [*api_settings.DEFAULT_THROTTLE_CLASSES, OrganisationSubmitThrottle]

    @property
    def api_key_annotations(self) -> dict:
        # A submission reads its user's memberships with the API key (PostgreSQL): one query fewer.
        if self.request.method != "POST" or connection.vendor != "postgresql":
            return {}
        return _READ_WITH_THE_KEY

    def initial(self, request, *args, **kwargs):
        # The overload guard comes first, before authentication; under portal.wsgi the WSGI-level guard
        # (portal/api/shedding.py) has already taken this request's slot, or refused it before Django.
        if request.method == "POST" and not request.META.get(SLOT_TAKEN):
            self._slot = submission_slot_take()
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        submission_slot_release(getattr(self, "_slot", False))
        self._slot = False
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        responses=JobOut(many=True),
        parameters=[
            OpenApiParameter("state", str, enum=JOB_STATES),
            OpenApiParameter("allocation", str, description="allocation id"),
            OpenApiParameter("kind", str, enum=JobKind.values),
        ],
        summary="My organisations' jobs (staff: all), newest first",
    )
    def get(self, request):
        jobs = jobs_visible_to(request.user)
        errors = {}
        state, kind, allocation = (request.query_params.get(k) for k in ("state", "kind", "allocation"))
        # A parameter given empty is a mistake to report, not a filter to drop.
        if state is not None:
            if state not in JOB_STATES:
                errors["state"] = [
                    gettext("Choose one of: %(choices)s.") % {"choices": ", ".join(JOB_STATES)}
                ]
            jobs = jobs.filter(state=state)
        if kind is not None:
            if kind not in JobKind.values:
                errors["kind"] = [
                    gettext("Choose one of: %(choices)s.") % {"choices": ", ".join(JobKind.values)}
                ]
            jobs = jobs.filter(kind=kind)
        if allocation is not None:
            try:
                jobs = jobs.filter(allocation__public_id=uuid.UUID(allocation))
            except ValueError:
                errors["allocation"] = [gettext("Not a valid id.")]
        if errors:
            raise InvalidInput(gettext("Invalid filter."), fields=errors)
        return paginate(self, request, jobs, JobOut, render=job_out_data)

    @extend_schema(
        request=JobIn,
        responses={201: JobOut},
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                location=OpenApiParameter.HEADER,
                description="retrying with the same key returns the first response",
            )
        ],
        summary="Submit a job against an allocation",
    )
    def post(self, request):
        # Access is checked in the allocation lookup and again in the service: one membership read, or
        # none where the API key's query read them (api_key_annotations).
        read = getattr(request.auth, "organisation_ids", None)
        with memberships_read_once({request.user.pk: frozenset(read)} if read is not None else None):
            return self._submit(request)

    def _submit(self, request):
        values = dict(job_in_validated(request.data))
        # The allocation, with the size of the job's queue for its response, in one query.
        allocation = allocation_to_submit_against(request.user, values.pop("allocation"), values["gpu_type"])
        if allocation is None:
            raise InvalidInput(
                gettext("No such allocation."),
                fields={"allocation": [gettext("No such allocation among yours.")]},
            )

        def submit(record=None):
            return services.job_submit(user=request.user, allocation=allocation, record=record, **values)

        def render(job):
            # The job was just created from these objects: render it without reading it back, and with
            # only the size of its queue (it cannot be in the last cycle's entries yet).
            job.allocation, job.organisation, job.created_by = (
                allocation,
                allocation.organisation,
                request.user,
            )
            views = {job.gpu_type: queue_view_of_size(job.gpu_type, allocation.queue_total)}
            return job_out_data(job, {"queue_views": views})

        key = request.headers.get("Idempotency-Key")
        if key is None:
            return Response(render(submit()), status=status.HTTP_201_CREATED)
        code, body, _ = services.job_submit_once(
            user=request.user,
            key=key,
            payload={**request.data},
            submit=submit,
            render=lambda job: _jsonable(render(job)),
        )
        return Response(body, status=code)


def _jsonable(data):
    import json

    from rest_framework.utils.encoders import JSONEncoder

    return json.loads(json.dumps(data, cls=JSONEncoder))


class JobDetail(APIView):
    @extend_schema(responses=JobOut, summary="A job, with queue position, estimated start and placement")
    def get(self, request, public_id):
        return Response(job_out_data(get_visible(jobs_visible_to(request.user), public_id), {}))


class JobCancel(APIView):
    @extend_schema(request=None, responses=JobOut, summary="Cancel a job (queued: at once; running: stopped)")
    def post(self, request, public_id):
        job = get_visible(jobs_visible_to(request.user), public_id)
        services.job_cancel(job=job, user=request.user)
        return Response(JobOut(jobs_visible_to(request.user).get(pk=job.pk)).data)


class JobEvents(APIView):
    @extend_schema(responses=JobEventOut(many=True), summary="Every state change of a job, with its reason")
    def get(self, request, public_id):
        job = get_visible(jobs_visible_to(request.user), public_id)
        return paginate(self, request, job_events(job), JobEventOut)


class JobLogs(APIView):
    @extend_schema(
        responses=JobLogsOut,
        parameters=[
            OpenApiParameter(
                "limit_bytes", int, description=f"default and maximum {settings.GPUGRANT_LOG_LIMIT_BYTES}"
            )
        ],
        summary="The end of a job's output, from the backend",
    )
    def get(self, request, public_id):
        job = get_visible(jobs_visible_to(request.user), public_id)
        limit = settings.GPUGRANT_LOG_LIMIT_BYTES
        raw = request.query_params.get("limit_bytes")
        if raw is not None:
            # ASCII digits only ("²" and "١٢" pass str.isdigit()), and few enough for int() to read.
            if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or not 1 <= int(raw) <= limit:
                raise InvalidInput(
                    gettext("Invalid limit."),
                    fields={"limit_bytes": [gettext("A whole number from 1 to %(most)s.") % {"most": limit}]},
                )
            limit = int(raw)
        text = ""
        if job.backend:
            try:
                text = get_backend(job.backend).logs(str(job.public_id), limit)
            except Exception:  # noqa: BLE001 - logs are best effort; say so instead of failing
                text = "(logs are not available from the backend right now)"
        encoded = text.encode()[-limit:]
        return Response(
            {"job": job.public_id, "text": encoded.decode(errors="replace"), "limit_bytes": limit}
        )
