"""The web portal's pages. tests/web/test_url_coverage.py must list every name here with its access rules."""

from django.urls import path, register_converter

from portal.web.converters import SecretTokenConverter
from portal.web.views import (
    accounts,
    after_award,
    allocations,
    api_keys,
    applications,
    calls,
    environments,
    fleet,
    home,
    jobs,
    language,
    organisations,
    providers,
    reviews,
    rounds,
    sessions,
    settlement,
    staff,
    statistics,
    usage,
)

app_name = "web"
register_converter(SecretTokenConverter, "secret")

urlpatterns = [
    path("accounts/login/", accounts.login_view, name="login"),
    path("accounts/logout/", accounts.logout_view, name="logout"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/signup/<secret:token>/", accounts.signup_finish, name="signup_finish"),
    path("accounts/check-email/", accounts.check_email, name="check_email"),
    path("accounts/password-reset/", accounts.password_reset_view, name="password_reset"),
    # The user by public id (Django's own links carry the integer primary key).
    path(
        "accounts/password-reset/<uuid:uidb64>/<secret:token>/",
        accounts.password_reset_confirm_view,
        name="password_reset_confirm",
    ),
    path("invitations/<secret:token>/", organisations.invitation, name="invitation"),
    path("language/", language.set_language, name="set_language"),
    path("accounts/api-keys/", api_keys.api_key_list, name="api_key_list"),
    path("accounts/api-keys/<uuid:public_id>/revoke/", api_keys.api_key_revoke_view, name="api_key_revoke"),
    path("", home.home, name="home"),
    path("organisations/", organisations.organisation_list, name="organisation_list"),
    path("organisations/new/", organisations.organisation_create, name="organisation_create"),
    path("organisations/<uuid:public_id>/", organisations.organisation_detail, name="organisation_detail"),
    path(
        "organisations/<uuid:public_id>/usage.csv",
        usage.organisation_usage_csv,
        name="organisation_usage_csv",
    ),
    path(
        "organisations/<uuid:public_id>/members/add/",
        organisations.organisation_member_add,
        name="organisation_member_add",
    ),
    path(
        "organisations/<uuid:public_id>/members/<uuid:user_id>/remove/",
        organisations.organisation_member_remove,
        name="organisation_member_remove",
    ),
    path(
        "organisations/<uuid:public_id>/verify/",
        organisations.organisation_set_verified,
        name="organisation_verify",
    ),
    path("calls/", calls.call_list, name="call_list"),
    path("calls/<uuid:public_id>/", calls.call_detail, name="call_detail"),
    path("calls/<uuid:public_id>/statistics/", statistics.call_statistics, name="call_statistics"),
    path("applications/", applications.application_list, name="application_list"),
    path("applications/new/", applications.application_create, name="application_create"),
    path("applications/<uuid:public_id>/", applications.application_detail, name="application_detail"),
    path("applications/<uuid:public_id>/edit/", applications.application_edit, name="application_edit"),
    path("applications/<uuid:public_id>/submit/", applications.application_submit, name="application_submit"),
    path(
        "applications/<uuid:public_id>/withdraw/",
        applications.application_withdraw,
        name="application_withdraw",
    ),
    path("applications/<uuid:public_id>/assign/", applications.application_assign, name="application_assign"),
    path("applications/<uuid:public_id>/decide/", applications.application_decide, name="application_decide"),
    path("allocations/", allocations.allocation_list, name="allocation_list"),
    path("allocations/<uuid:public_id>/", allocations.allocation_detail, name="allocation_detail"),
    path("allocations/<uuid:public_id>/agreement/", rounds.allocation_agreement, name="allocation_agreement"),
    path(
        "allocations/<uuid:public_id>/usage.csv",
        usage.allocation_usage_csv,
        name="allocation_usage_csv",
    ),
    path(
        "allocations/<uuid:public_id>/change/",
        allocations.change_request_create,
        name="change_request_create",
    ),
    path(
        "allocations/<uuid:public_id>/status/",
        allocations.allocation_set_status,
        name="allocation_set_status",
    ),
    path(
        "allocations/<uuid:public_id>/session-settings/",
        allocations.allocation_set_session_settings,
        name="allocation_set_session_settings",
    ),
    path(
        "allocations/<uuid:public_id>/custom-images/",
        allocations.allocation_set_custom_images,
        name="allocation_set_custom_images",
    ),
    path("allocations/<uuid:public_id>/stage-report/", after_award.stage_report, name="stage_report"),
    path(
        "allocations/<uuid:public_id>/stage-evaluation/",
        after_award.stage_evaluation,
        name="stage_evaluation",
    ),
    path(
        "allocations/<uuid:public_id>/outcomes/",
        after_award.outcome_report_create,
        name="outcome_report_create",
    ),
    path(
        "allocations/<uuid:public_id>/misuse/", after_award.misuse_report_create, name="misuse_report_create"
    ),
    path("jobs/", jobs.job_list, name="job_list"),
    path("jobs/new/", jobs.job_submit, name="job_submit"),
    path("jobs/<uuid:public_id>/", jobs.job_detail, name="job_detail"),
    path("jobs/<uuid:public_id>/usage.csv", usage.job_usage_csv, name="job_usage_csv"),
    path("jobs/<uuid:public_id>/cancel/", jobs.job_cancel, name="job_cancel"),
    # /sessions/<id>/ is the proxy's address (where a session opens); a session's page lives here.
    path("my-sessions/", sessions.session_list, name="session_list"),
    path("my-sessions/new/", sessions.session_launch, name="session_launch"),
    path("my-sessions/<uuid:public_id>/", sessions.session_detail, name="session_detail"),
    path("my-sessions/<uuid:public_id>/stop/", sessions.session_stop, name="session_stop"),
    path("reviews/", reviews.review_list, name="review_list"),
    path("reviews/<uuid:public_id>/", reviews.review_detail, name="review_detail"),
    path("staff/", staff.staff_home, name="staff_home"),
    path("staff/calls/new/", staff.staff_call_create, name="staff_call_create"),
    path("staff/calls/<uuid:public_id>/edit/", staff.staff_call_edit, name="staff_call_edit"),
    path(
        "staff/calls/<uuid:public_id>/outcomes.csv",
        after_award.staff_call_outcomes_csv,
        name="staff_call_outcomes_csv",
    ),
    path(
        "staff/calls/<uuid:public_id>/outcomes.xlsx",
        after_award.staff_call_outcomes_xlsx,
        name="staff_call_outcomes_xlsx",
    ),
    path("staff/reclaims/", after_award.staff_reclaim_list, name="staff_reclaim_list"),
    path(
        "staff/reclaims/<uuid:public_id>/decide/",
        after_award.staff_reclaim_decide,
        name="staff_reclaim_decide",
    ),
    path(
        "staff/calls/<uuid:public_id>/statistics/",
        statistics.staff_call_statistics,
        name="staff_call_statistics",
    ),
    path("staff/organisations/", staff.staff_organisation_list, name="staff_organisation_list"),
    path("staff/calls/<uuid:public_id>/round/", rounds.staff_round, name="staff_round"),
    path("staff/calls/<uuid:public_id>/round/setup/", rounds.staff_round_setup, name="staff_round_setup"),
    path(
        "staff/calls/<uuid:public_id>/round/propose/", rounds.staff_round_propose, name="staff_round_propose"
    ),
    path(
        "staff/calls/<uuid:public_id>/round/approve/", rounds.staff_round_approve, name="staff_round_approve"
    ),
    path(
        "staff/calls/<uuid:public_id>/round/lines/<uuid:application_id>/",
        rounds.staff_round_line,
        name="staff_round_line",
    ),
    path("staff/environments/", environments.staff_environment_list, name="staff_environment_list"),
    path("staff/environments/new/", environments.staff_environment_create, name="staff_environment_create"),
    path(
        "staff/environments/<uuid:public_id>/edit/",
        environments.staff_environment_edit,
        name="staff_environment_edit",
    ),
    path(
        "staff/environments/<uuid:public_id>/active/",
        environments.staff_environment_set_active,
        name="staff_environment_set_active",
    ),
    path("staff/fleet/", fleet.staff_fleet, name="staff_fleet"),
    path("staff/settlement/", settlement.staff_settlement, name="staff_settlement"),
    path("staff/providers/", providers.staff_provider_list, name="staff_provider_list"),
    path("staff/providers/new/", providers.staff_provider_edit, name="staff_provider_create"),
    path("staff/providers/<uuid:public_id>/edit/", providers.staff_provider_edit, name="staff_provider_edit"),
    path("staff/clusters/new/", providers.staff_cluster_edit, name="staff_cluster_create"),
    path("staff/clusters/<uuid:public_id>/edit/", providers.staff_cluster_edit, name="staff_cluster_edit"),
    path("staff/clusters/<uuid:public_id>/state/", providers.staff_cluster_state, name="staff_cluster_state"),
    path("staff/contracts/new/", providers.staff_contract_edit, name="staff_contract_create"),
    path("staff/contracts/<uuid:public_id>/edit/", providers.staff_contract_edit, name="staff_contract_edit"),
]
