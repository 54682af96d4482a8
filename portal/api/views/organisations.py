"""Organisations and their members."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.api.common import IsStaff, get_visible, paginate
from portal.api.serializers.organisations import (
    InvitationOut,
    MemberIn,
    MemberOut,
    OrganisationIn,
    OrganisationOut,
    VerifyIn,
)
from portal.organisations import services
from portal.organisations.models import Membership
from portal.organisations.selectors import organisations_visible_to


def _context(request):
    roles = dict(Membership.objects.filter(user=request.user).values_list("organisation_id", "role"))
    return {"request": request, "roles": roles}


class OrganisationListCreate(APIView):
    @extend_schema(responses=OrganisationOut(many=True), summary="Organisations I belong to (staff: all)")
    def get(self, request):
        return paginate(
            self,
            request,
            organisations_visible_to(request.user).order_by("name"),
            OrganisationOut,
            _context(request),
        )

    @extend_schema(
        request=OrganisationIn,
        responses={201: OrganisationOut},
        summary="Register an organisation; you become its owner",
    )
    def post(self, request):
        data = OrganisationIn(data=request.data)
        data.is_valid(raise_exception=True)
        organisation = services.organisation_create(creator=request.user, **data.validated_data)
        return Response(
            OrganisationOut(organisation, context=_context(request)).data, status=status.HTTP_201_CREATED
        )


class OrganisationDetail(APIView):
    @extend_schema(responses=OrganisationOut)
    def get(self, request, public_id):
        organisation = get_visible(organisations_visible_to(request.user), public_id)
        return Response(OrganisationOut(organisation, context=_context(request)).data)


class OrganisationVerify(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=VerifyIn, responses=OrganisationOut, summary="Staff: mark an organisation verified or not"
    )
    def post(self, request, public_id):
        organisation = get_visible(organisations_visible_to(request.user), public_id)
        data = VerifyIn(data=request.data)
        data.is_valid(raise_exception=True)
        organisation = services.organisation_verify(
            organisation=organisation, staff=request.user, **data.validated_data
        )
        return Response(OrganisationOut(organisation, context=_context(request)).data)


class OrganisationMembers(APIView):
    @extend_schema(responses=MemberOut(many=True))
    def get(self, request, public_id):
        organisation = get_visible(organisations_visible_to(request.user), public_id)
        members = organisation.memberships.select_related("user").order_by("created_at", "id")
        return paginate(self, request, members, MemberOut)

    @extend_schema(
        request=MemberIn,
        responses={202: InvitationOut},
        summary="Owner or manager: invite someone by email; they join when they accept",
        description="The answer is the same whether or not an account uses the address: an invitation "
        "is emailed either way, and the person becomes a member by accepting it.",
    )
    def post(self, request, public_id):
        organisation = get_visible(organisations_visible_to(request.user), public_id)
        data = MemberIn(data=request.data)
        data.is_valid(raise_exception=True)
        invitation = services.membership_invite(
            organisation=organisation, actor=request.user, **data.validated_data
        )
        return Response(
            {"email": invitation.email, "role": invitation.role, "status": "invited"},
            status=status.HTTP_202_ACCEPTED,
        )
