"""REST API v1. Every route answers with and without a trailing slash; the schema shows the slash-less one."""

from django.urls import path

from portal.api import schema  # noqa: F401 - registers the OpenAPI auth description
from portal.api.views import (
    accounts,
    allocations,
    applications,
    calls,
    environments,
    jobs,
    misuse,
    organisations,
    outcomes,
    providers,
    reclaims,
    reviews,
    rounds,
    sessions,
    settlement,
    stages,
    statistics,
    usage,
)

app_name = "api"


def route(pattern: str, view, name: str) -> list:
    return [path(pattern, view.as_view(), name=name), path(f"{pattern}/", view.as_view())]


# Jobs first: Django tries the routes in order, and submissions and job reads are most of the API's
# traffic (the burst: docs/benchmarks.md, section 6). No two routes match the same path.
urlpatterns = [
    *route("jobs", jobs.JobListCreate, "jobs"),
    *route("jobs/<uuid:public_id>", jobs.JobDetail, "job"),
    *route("jobs/<uuid:public_id>/cancel", jobs.JobCancel, "job_cancel"),
    *route("jobs/<uuid:public_id>/events", jobs.JobEvents, "job_events"),
    *route("jobs/<uuid:public_id>/logs", jobs.JobLogs, "job_logs"),
    *route("me", accounts.Me, "me"),
    *route("api-keys", accounts.ApiKeyListCreate, "api_keys"),
    *route("api-keys/<uuid:public_id>/revoke", accounts.ApiKeyRevoke, "api_key_revoke"),
    *route("audit-events", accounts.AuditEventList, "audit_events"),
    *route("organisations", organisations.OrganisationListCreate, "organisations"),
    *route("organisations/<uuid:public_id>", organisations.OrganisationDetail, "organisation"),
    *route("organisations/<uuid:public_id>/verify", organisations.OrganisationVerify, "organisation_verify"),
    *route(
        "organisations/<uuid:public_id>/members", organisations.OrganisationMembers, "organisation_members"
    ),
    *route("calls", calls.CallListCreate, "calls"),
    *route("calls/<uuid:public_id>", calls.CallDetail, "call"),
    *route("calls/<uuid:public_id>/ranking", calls.CallRanking, "call_ranking"),
    *route("calls/<uuid:public_id>/criteria", calls.CallWeights, "call_criteria"),
    *route("calls/<uuid:public_id>/levers", rounds.CallRoundLevers, "call_levers"),
    *route("calls/<uuid:public_id>/tracks", rounds.CallTracks, "call_tracks"),
    *route("calls/<uuid:public_id>/round", rounds.CallRound, "call_round"),
    *route("calls/<uuid:public_id>/round/proposal", rounds.CallRoundProposal, "call_round_proposal"),
    *route(
        "calls/<uuid:public_id>/round/lines/<uuid:application_id>", rounds.CallRoundLine, "call_round_line"
    ),
    *route("calls/<uuid:public_id>/round/approval", rounds.CallRoundApproval, "call_round_approval"),
    *route("calls/<uuid:public_id>/statistics", statistics.CallStatistics, "call_statistics"),
    *route(
        "calls/<uuid:public_id>/statistics/public", statistics.CallPublicStatistics, "call_public_statistics"
    ),
    *route("sessions", sessions.SessionListCreate, "sessions"),
    *route("sessions/<uuid:public_id>", sessions.SessionDetail, "session"),
    *route("sessions/<uuid:public_id>/stop", sessions.SessionStop, "session_stop"),
    *route("applications", applications.ApplicationListCreate, "applications"),
    *route("applications/<uuid:public_id>", applications.ApplicationDetail, "application"),
    *route("applications/<uuid:public_id>/submit", applications.ApplicationSubmit, "application_submit"),
    *route(
        "applications/<uuid:public_id>/withdraw", applications.ApplicationWithdraw, "application_withdraw"
    ),
    *route("applications/<uuid:public_id>/assign", applications.ApplicationAssign, "application_assign"),
    *route(
        "applications/<uuid:public_id>/decision", applications.ApplicationDecision, "application_decision"
    ),
    *route("applications/<uuid:public_id>/reviews", applications.ApplicationReviews, "application_reviews"),
    *route("reviews", reviews.ReviewList, "reviews"),
    *route("reviews/<uuid:public_id>", reviews.ReviewDetail, "review"),
    *route("reviews/<uuid:public_id>/submit", reviews.ReviewSubmit, "review_submit"),
    *route("allocations", allocations.AllocationList, "allocations"),
    *route("allocations/<uuid:public_id>", allocations.AllocationDetail, "allocation"),
    *route("allocations/<uuid:public_id>/status", allocations.AllocationStatusChange, "allocation_status"),
    *route(
        "allocations/<uuid:public_id>/session-settings",
        allocations.AllocationSessionSettings,
        "allocation_session_settings",
    ),
    *route("allocations/<uuid:public_id>/agreement", rounds.AllocationAgreement, "allocation_agreement"),
    *route(
        "allocations/<uuid:public_id>/agreement/acceptance",
        rounds.AllocationAgreementAcceptance,
        "allocation_agreement_acceptance",
    ),
    *route(
        "allocations/<uuid:public_id>/change-requests",
        allocations.AllocationChangeRequest,
        "allocation_change_request",
    ),
    *route("allocations/<uuid:public_id>/stages", stages.AllocationStages, "allocation_stages"),
    *route("allocations/<uuid:public_id>/stage-report", stages.StageReport, "stage_report"),
    *route("allocations/<uuid:public_id>/stage-evaluation", stages.StageEvaluation, "stage_evaluation"),
    *route(
        "allocations/<uuid:public_id>/usage-checks", stages.AllocationUsageChecks, "allocation_usage_checks"
    ),
    *route("allocations/<uuid:public_id>/outcomes", outcomes.AllocationOutcomes, "allocation_outcomes"),
    *route(
        "allocations/<uuid:public_id>/misuse-reports",
        misuse.AllocationMisuseReports,
        "allocation_misuse_reports",
    ),
    *route("reclaims", reclaims.ReclaimList, "reclaims"),
    *route("reclaims/<uuid:public_id>/decision", reclaims.ReclaimDecisionView, "reclaim_decision"),
    *route("calls/<uuid:public_id>/outcomes", outcomes.CallOutcomes, "call_outcomes"),
    *route("outcomes", outcomes.OutcomeExport, "outcomes"),
    *route("environments", environments.EnvironmentList, "environments"),
    *route("providers", providers.ProviderList, "providers"),
    *route("settlement", settlement.Settlement, "settlement"),
    *route("jobs/<uuid:public_id>/usage", usage.JobUsage, "job_usage"),
    *route("allocations/<uuid:public_id>/usage", usage.AllocationUsage, "allocation_usage"),
    *route("organisations/<uuid:public_id>/usage", usage.OrganisationUsage, "organisation_usage"),
    *route("usage", usage.UsageReport, "usage"),
    *route("node/jobs", usage.NodeJobs, "node_jobs"),
]
