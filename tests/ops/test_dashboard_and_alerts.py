"""The Grafana dashboard and the Prometheus alert rules query only series /metrics exposes."""

import json
import re
from pathlib import Path

import pytest
import yaml

from scheduler.cycle import run_cycle
from tests.ops.conftest import exposed_names

pytestmark = pytest.mark.django_db

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "gpugrant-dashboard.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yaml"
METRIC = re.compile(r"\bgpugrant_[a-z0-9_]+")


@pytest.fixture
def exposed(client, cluster):
    run_cycle(backend=cluster)  # the scheduler's series appear after its first cycle
    return exposed_names(client)


def dashboard_queries(dashboard: dict) -> list[str]:
    queries = []
    for panel in dashboard["panels"]:
        queries += [target["expr"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        queries.append(query["query"] if isinstance(query, dict) else query or "")
    return queries


def test_the_dashboard_is_well_formed():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
    assert (
        variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    )
    for panel in dashboard["panels"]:
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]) and panel["gridPos"]["x"] + panel["gridPos"][
            "w"
        ] <= 24
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
            assert panel["targets"], panel["title"]


def test_every_metric_the_dashboard_queries_is_exposed(exposed):
    queried = {
        name
        for query in dashboard_queries(json.loads(DASHBOARD.read_text()))
        for name in METRIC.findall(query)
    }
    assert queried and queried <= exposed, sorted(queried - exposed)


def test_the_dashboard_shows_every_series_the_issue_asks_for():
    text = DASHBOARD.read_text()
    for name in (
        "gpugrant_queue_jobs",
        "gpugrant_queue_oldest_wait_seconds",
        "gpugrant_scheduler_cycle_duration_seconds_bucket",
        "gpugrant_scheduler_placements_total",
        "gpugrant_gpus",
        "gpugrant_usage_ingestion_lag_seconds_bucket",
        "gpugrant_node_agent_spool_backlog_records",
        "gpugrant_budget_exhaustions_total",
        "gpugrant_http_request_duration_seconds_bucket",
        "gpugrant_http_server_errors_total",
    ):
        assert name in text, name


def test_the_alert_rules_are_valid_and_query_exposed_series(exposed):
    rules = yaml.safe_load(ALERTS.read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    names = [rule["alert"] for rule in alerts]
    assert len(names) == len(set(names)) >= 8
    for rule in alerts:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert re.fullmatch(r"\d+[smh]", rule["for"])
        assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
        assert set(METRIC.findall(rule["expr"])) <= exposed, rule["alert"]
    documented = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    missing = [name for name in names if name not in documented]
    assert not missing, f"docs/operations.md does not explain {missing}"
