"""A call's allocation round (staff) and an award's agreement (its organisation). Thin: the rules are in
quotas.round_setup, quotas.round and quotas.agreements."""

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from portal.accounts.lockout import client_address
from portal.api.common import IsStaff, get_visible
from portal.api.serializers.rounds import (
    AcceptIn,
    AgreementOut,
    LeversIn,
    LineAdjustIn,
    RoundOut,
    SetupOut,
    TracksIn,
)
from portal.calls.selectors import calls_visible_to
from quotas import round as rounds
from quotas import round_setup
from quotas.agreements import agreement_accept
from quotas.models import Agreement, AllocationRound, RoundLine
from quotas.round_selectors import round_lines
from quotas.selectors import allocations_visible_to


def setup_of(call) -> dict:
    return {"levers": round_setup.call_levers(call), "tracks": call.tracks.prefetch_related("pools")}


def round_of(call) -> AllocationRound:
    the_round = AllocationRound.objects.filter(call=call).first()
    if the_round is None:
        raise Http404
    the_round.ordered_lines = round_lines(the_round)
    return the_round


class CallRoundLevers(APIView):
    permission_classes = [IsStaff]

    @extend_schema(responses=SetupOut, summary="Staff: a call's round setup (levers and tracks)")
    def get(self, request, public_id):
        return Response(SetupOut(setup_of(get_visible(calls_visible_to(request.user), public_id))).data)

    @extend_schema(request=LeversIn, responses=SetupOut, summary="Staff: set a call's round levers")
    def put(self, request, public_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        data = LeversIn(data=request.data)
        data.is_valid(raise_exception=True)
        call = round_setup.call_levers_set(staff=request.user, call=call, levers=dict(data.validated_data))
        return Response(SetupOut(setup_of(call)).data)


class CallTracks(APIView):
    permission_classes = [IsStaff]

    @extend_schema(request=TracksIn, responses=SetupOut, summary="Staff: set a call's tracks and their pools")
    def put(self, request, public_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        data = TracksIn(data=request.data)
        data.is_valid(raise_exception=True)
        round_setup.call_tracks_set(staff=request.user, call=call, tracks=data.validated_data["tracks"])
        return Response(SetupOut(setup_of(call)).data)


class CallRound(APIView):
    permission_classes = [IsStaff]

    @extend_schema(responses=RoundOut, summary="Staff: a call's round, line by line with its reasons")
    def get(self, request, public_id):
        return Response(RoundOut(round_of(get_visible(calls_visible_to(request.user), public_id))).data)


class CallRoundProposal(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=None, responses=RoundOut, summary="Staff: propose the round (again) from the ranking"
    )
    def post(self, request, public_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        rounds.round_propose(staff=request.user, call=call)
        return Response(RoundOut(round_of(call)).data)


class CallRoundLine(APIView):
    permission_classes = [IsStaff]

    @extend_schema(
        request=LineAdjustIn, responses=RoundOut, summary="Staff: adjust one line of a proposed round"
    )
    def patch(self, request, public_id, application_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        line = RoundLine.objects.filter(round__call=call, application__public_id=application_id).first()
        if line is None:
            raise Http404
        data = LineAdjustIn(data=request.data)
        data.is_valid(raise_exception=True)
        rounds.round_line_adjust(staff=request.user, line=line, **data.validated_data)
        return Response(RoundOut(round_of(call)).data)


class CallRoundApproval(APIView):
    permission_classes = [IsStaff]

    @extend_schema(request=None, responses=RoundOut, summary="Staff: approve the round: every line at once")
    def post(self, request, public_id):
        call = get_visible(calls_visible_to(request.user), public_id)
        rounds.round_approve(staff=request.user, call=call)
        return Response(RoundOut(round_of(call)).data)


def agreement_of(user, public_id) -> Agreement:
    allocation = get_visible(allocations_visible_to(user), public_id)
    agreement = (
        Agreement.objects.select_related("allocation__call", "accepted_by")
        .filter(allocation=allocation)
        .first()
    )
    if agreement is None:
        raise Http404
    return agreement


class AllocationAgreement(APIView):
    @extend_schema(responses=AgreementOut, summary="An award's agreement: the terms and whether accepted")
    def get(self, request, public_id):
        return Response(AgreementOut(agreement_of(request.user, public_id)).data)


class AllocationAgreementAcceptance(APIView):
    @extend_schema(
        request=AcceptIn, responses=AgreementOut, summary="The organisation's owner accepts the agreement"
    )
    def post(self, request, public_id):
        agreement = agreement_of(request.user, public_id)
        data = AcceptIn(data=request.data)
        data.is_valid(raise_exception=True)
        agreement = agreement_accept(
            user=request.user,
            agreement=agreement,
            terms_version=data.validated_data["terms_version"],
            address=client_address(request) if client_address(request) != "unknown" else None,
        )
        return Response(AgreementOut(agreement_of(request.user, public_id)).data)
