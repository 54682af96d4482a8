"""Applications: create, edit, submit, withdraw; staff assignment and decisions; their reviews."""

from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.models import User
from portal.api.common import IsStaff, get_visible, paginate
from portal.api.serializers.applications import (
    ApplicationIn,
    ApplicationOut,
    ApplicationPatch,
    AssignIn,
    DecisionIn,
    PublicReviewOut,
    ReasonIn,
    ReviewOut,
)
from portal.applications import services
from portal.applications.selectors import (
    application_is_member_visible,
    applications_visible_to,
    reviews_visible_on,
)
from portal.applications.states import State
from portal.calls.selectors import calls_visible_to
from portal.errors import InvalidInput
from portal.organisations.selectors import organisations_visible_to
from quotas import services as quota_services


def _fresh(request, application):
    return applications_visible_to(request.user).get(pk=application.pk)


class ApplicationListCreate(APIView):
    @extend_schema(
        responses=ApplicationOut(many=True),
        parameters=[
            OpenApiParameter("state", str, enum=[s.value for s in State]),
            OpenApiParameter("call", str, description="call id"),
            OpenApiParameter("organisation", str, description="organisation id"),
        ],
        summary="Applications I can see: my organisations' (reviewers: also assigned; staff: all)",
    )
    def get(self, request):
        applications = applications_visible_to(request.user)
        errors = {}
        state = request.query_params.get("state")
        # A parameter given empty is a mistake to report, not a filter to drop.
        if state is not None:
            if state not in State.__members__.values() and state not in [s.value for s in State]:
                errors["state"] = [f"Unknown state; choose one of: {', '.join(s.value for s in State)}."]
            applications = applications.filter(state=state)
        for name in ("call", "organisation"):
            value = request.query_params.get(name)
            if value is not None:
                try:
                    import uuid

                    applications = applications.filter(**{f"{name}__public_id": uuid.UUID(value)})
                except ValueError:
                    errors[name] = [_("Not a valid id.")]
        if errors:
            raise InvalidInput(_("Invalid filter."), fields=errors)
        return paginate(self, request, applications, ApplicationOut)

    @extend_schema(
        request=ApplicationIn, responses={201: ApplicationOut}, summary="Create a draft application"
    )
    def post(self, request):
        data = ApplicationIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        call = calls_visible_to(request.user).filter(public_id=values.pop("call")).first()
        organisation = (
            organisations_visible_to(request.user).filter(public_id=values.pop("organisation")).first()
        )
        errors = {}
        if call is None:
            errors["call"] = [_("No such call.")]
        if organisation is None:
            errors["organisation"] = [_("No such organisation among yours.")]
        if errors:
            raise InvalidInput(_("Some fields are not valid."), fields=errors)
        application = services.application_create(
            user=request.user, organisation=organisation, call=call, **values
        )
        return Response(ApplicationOut(_fresh(request, application)).data, status=status.HTTP_201_CREATED)


class ApplicationDetail(APIView):
    @extend_schema(responses=ApplicationOut)
    def get(self, request, public_id):
        return Response(ApplicationOut(get_visible(applications_visible_to(request.user), public_id)).data)

    @extend_schema(
        request=ApplicationPatch, responses=ApplicationOut, summary="Edit a draft or a returned application"
    )
    def patch(self, request, public_id):
        application = get_visible(applications_visible_to(request.user), public_id)
        data = ApplicationPatch(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        gpu_requests = values.pop(
            "gpu_requests", {line.gpu_type: line.gpu_hours for line in application.gpu_requests.all()}
        )
        application = services.application_update(
            application=application, user=request.user, gpu_requests=gpu_requests, **values
        )
        return Response(ApplicationOut(_fresh(request, application)).data)


class ApplicationSubmit(APIView):
    @extend_schema(
        request=None, responses=ApplicationOut, summary="Submit a draft, or resubmit after revision"
    )
    def post(self, request, public_id):
        application = get_visible(applications_visible_to(request.user), public_id)
        application = services.application_submit(application=application, user=request.user)
        return Response(ApplicationOut(_fresh(request, application)).data)


class ApplicationWithdraw(APIView):
    @extend_schema(request=ReasonIn, responses=ApplicationOut, summary="Withdraw an application")
    def post(self, request, public_id):
        application = get_visible(applications_visible_to(request.user), public_id)
        data = ReasonIn(data=request.data)
        data.is_valid(raise_exception=True)
        application = services.application_withdraw(
            application=application, user=request.user, **data.validated_data
        )
        return Response(ApplicationOut(_fresh(request, application)).data)


class ApplicationAssign(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=AssignIn,
        responses={201: ReviewOut(many=True)},
        summary="Staff: assign reviewers (starts the review)",
    )
    def post(self, request, public_id):
        application = get_visible(applications_visible_to(request.user), public_id)
        data = AssignIn(data=request.data)
        data.is_valid(raise_exception=True)
        emails = [email.lower() for email in data.validated_data["reviewers"]]
        reviewers = list(User.objects.filter(email__in=emails))
        unknown = sorted(set(emails) - {user.email for user in reviewers})
        if unknown:
            raise InvalidInput(
                _("Unknown reviewers."),
                fields={"reviewers": [_("No user %(email)s.") % {"email": email} for email in unknown]},
            )
        reviews = services.review_assign(application=application, staff=request.user, reviewers=reviewers)
        return Response(ReviewOut(reviews, many=True).data, status=status.HTTP_201_CREATED)


class ApplicationDecision(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=DecisionIn,
        responses=ApplicationOut,
        summary="Staff: approve (award), reject or request revision",
    )
    def post(self, request, public_id):
        application = get_visible(applications_visible_to(request.user), public_id)
        data = DecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        application = quota_services.application_decide(
            application=application, staff=request.user, **data.validated_data
        )
        return Response(ApplicationOut(_fresh(request, application)).data)


class ApplicationReviews(APIView):
    @extend_schema(
        responses=ReviewOut(many=True),
        summary="Reviews of an application: staff see all; reviewers their own; applicants the public part",
    )
    def get(self, request, public_id):
        application = get_visible(applications_visible_to(request.user), public_id)
        reviews = reviews_visible_on(application, request.user)
        serializer = (
            ReviewOut
            if (request.user.is_staff or not _is_applicant(request.user, application))
            else PublicReviewOut
        )
        return paginate(self, request, reviews.order_by("round", "assigned_at", "id"), serializer)


def _is_applicant(user, application) -> bool:
    return application_is_member_visible(user, application)
