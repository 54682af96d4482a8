"""Interactive sessions (docs/sessions.md). Thin: the rules are in scheduler.sessions."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import get_visible, paginate
from portal.api.serializers.sessions import SessionIn, SessionOut
from portal.errors import InvalidInput
from quotas.selectors import allocations_visible_to
from scheduler import sessions
from scheduler.selectors import sessions_visible_to


class SessionListCreate(APIView):
    @extend_schema(responses=SessionOut(many=True), summary="Your organisations' sessions, newest first")
    def get(self, request):
        return paginate(self, request, sessions_visible_to(request.user), SessionOut)

    @extend_schema(request=SessionIn, responses={201: SessionOut}, summary="Launch a JupyterLab session")
    def post(self, request):
        data = SessionIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        allocation = allocations_visible_to(request.user).filter(public_id=values.pop("allocation")).first()
        if (
            allocation is None
            or request.user.is_staff
            and not allocation.organisation.memberships.filter(user=request.user).exists()
        ):
            raise InvalidInput(
                _("Some fields are not valid."), fields={"allocation": [_("No such allocation among yours.")]}
            )
        job = sessions.session_launch(user=request.user, allocation=allocation, **values)
        return Response(
            SessionOut(sessions_visible_to(request.user).get(pk=job.pk)).data, status=status.HTTP_201_CREATED
        )


class SessionDetail(APIView):
    @extend_schema(responses=SessionOut, summary="A session: its state, queue position and where it opens")
    def get(self, request, public_id):
        return Response(SessionOut(get_visible(sessions_visible_to(request.user), public_id)).data)


class SessionStop(APIView):
    @extend_schema(request=None, responses=SessionOut, summary="Stop a session (the notebooks stay)")
    def post(self, request, public_id):
        job = get_visible(sessions_visible_to(request.user), public_id)
        sessions.session_stop(job=job, user=request.user)
        return Response(SessionOut(sessions_visible_to(request.user).get(pk=job.pk)).data)
