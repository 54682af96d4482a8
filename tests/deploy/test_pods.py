"""What an operator relies on in every pod: resources, security, probes, placement, replicas."""

import pytest
from django.urls import resolve

from tests.deploy.kustomize import pod_specs
from tests.deploy.manifests import (
    AGENT,
    OVERLAYS,
    arguments,
    component,
    containers,
    find,
    long_running,
    of_kind,
    rendered,
    selects,
    templates,
    workloads,
)

# Long-running containers without a liveness probe, and why. Adding one here needs a reason.
NO_PROBE = {"scheduler-watch": "no health signal of its own yet (deploy/base/scheduler-watch.yaml)"}
# Kubernetes quantities as the manifests write them.
UNITS = {"m": 1e-3, "": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def _quantity(value) -> float:
    text = str(value)
    for suffix in ("Ki", "Mi", "Gi", "m"):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * UNITS[suffix]
    return float(text)


def _container_cases():
    for overlay in OVERLAYS:
        for obj in workloads(rendered(overlay)):
            for spec in pod_specs(obj):
                for container in containers(spec):
                    yield pytest.param(
                        obj, spec, container, id=f"{overlay}:{obj['metadata']['name']}/{container['name']}"
                    )


CONTAINERS = list(_container_cases())
NOT_THE_AGENT = [case for case in CONTAINERS if component(case.values[0]) != AGENT]


@pytest.mark.parametrize(("obj", "spec", "container"), CONTAINERS)
def test_every_container_requests_and_limits_cpu_and_memory(obj, spec, container):
    resources = container["resources"]

    for resource in ("cpu", "memory"):
        assert _quantity(resources["requests"][resource]) > 0
        assert _quantity(resources["limits"][resource]) >= _quantity(resources["requests"][resource])


@pytest.mark.parametrize(("obj", "spec", "container"), CONTAINERS)
def test_every_container_is_locked_down(obj, spec, container):
    context = container["securityContext"]

    assert context["allowPrivilegeEscalation"] is False
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert not context.get("privileged", False)
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
    mounts = {mount["mountPath"] for mount in container.get("volumeMounts", [])}
    assert "/tmp" in mounts


@pytest.mark.parametrize(("obj", "spec", "container"), NOT_THE_AGENT)
def test_every_container_but_the_agent_runs_as_non_root(obj, spec, container):
    user = container.get("securityContext", {}).get("runAsUser", spec["securityContext"].get("runAsUser"))

    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"].get("runAsNonRoot", True) is True
    assert user not in (None, 0)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_agent_is_root_without_capabilities_in_its_own_namespace(overlay):
    objects = rendered(overlay)
    (agent,) = [obj for obj in workloads(objects) if component(obj) == AGENT]
    namespace = find(objects, "Namespace", agent["metadata"]["namespace"])
    (container,) = agent["spec"]["template"]["spec"]["containers"]

    assert agent["metadata"]["namespace"] != "gpugrant"
    # Only the agent may use host paths; gpugrant's own namespace enforces "restricted".
    assert find(objects, "Namespace", "gpugrant")["metadata"]["labels"][
        "pod-security.kubernetes.io/enforce"
    ] == ("restricted")
    assert [
        obj for obj in workloads(objects) if obj["metadata"]["namespace"] == namespace["metadata"]["name"]
    ] == [agent]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["privileged"] is False


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_agent_mounts_host_paths(overlay):
    for obj in workloads(rendered(overlay)):
        host_paths = [
            volume for volume in obj["spec"]["template"]["spec"].get("volumes", []) if "hostPath" in volume
        ]
        if component(obj) != AGENT:
            assert host_paths == [], obj["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_long_running_containers_have_probes(overlay):
    for obj in workloads(rendered(overlay)):
        spec = obj["spec"]["template"]["spec"]
        for container in spec["containers"]:
            if not long_running(obj):
                assert "livenessProbe" not in container  # a Job's container ends by itself
                continue
            if component(obj) in NO_PROBE:
                assert "livenessProbe" not in container, (
                    f"{component(obj)} has a probe now: drop it from NO_PROBE"
                )
                continue
            assert "livenessProbe" in container, obj["metadata"]["name"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portal_probes_the_health_endpoints_it_serves(overlay):
    (portal,) = find(rendered(overlay), "Deployment", "gpugrant-portal")["spec"]["template"]["spec"][
        "containers"
    ]

    assert portal["livenessProbe"]["httpGet"]["path"] == "/healthz/live"
    assert portal["readinessProbe"]["httpGet"]["path"] == "/healthz/ready"
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert resolve(portal[probe]["httpGet"]["path"]).url_name in {"ops_live", "ops_ready"}
        assert portal[probe]["httpGet"]["port"] in {port["name"] for port in portal["ports"]}
    env = {item["name"]: item["value"] for item in portal["env"]}
    assert env["GPUGRANT_READY_MAX_CYCLE_AGE_S"] == "0"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sessions_proxy_is_uvicorn_serving_the_asgi_entry_and_probes_what_it_serves(overlay):
    (proxy,) = find(rendered(overlay), "Deployment", "gpugrant-sessions")["spec"]["template"]["spec"][
        "containers"
    ]
    args = proxy["args"]

    assert args[:2] == ["uvicorn", "portal.asgi:application"]
    assert args[args.index("--ws") + 1] == "websockets-sansio"  # the implementation the proxy is tested on
    assert {"--no-access-log", "--proxy-headers"} <= set(args)  # the proxy logs its own line, without ids
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        # Django in the same process answers it; not /healthz/ready, which checks a broker it never uses.
        assert resolve(proxy[probe]["httpGet"]["path"]).url_name == "ops_live"
        assert proxy[probe]["httpGet"]["port"] in {port["name"] for port in proxy["ports"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_stopping_server_has_time_to_finish_before_it_is_killed(overlay):
    objects = rendered(overlay)
    portal = find(objects, "Deployment", "gpugrant-portal")["spec"]["template"]["spec"]
    sessions = find(objects, "Deployment", "gpugrant-sessions")["spec"]["template"]["spec"]
    graceful = {
        "portal": int(arguments(portal["containers"][0])["graceful-timeout"]),
        "sessions": int(arguments(sessions["containers"][0])["timeout-graceful-shutdown"]),
    }

    for name, spec in (("portal", portal), ("sessions", sessions)):
        (container,) = spec["containers"]
        pause = container["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pause + graceful[name] < spec["terminationGracePeriodSeconds"], name
    # Streamed downloads and uploads through the proxy get longer than the API's requests.
    assert graceful["sessions"] > graceful["portal"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sessions_proxy_loads_what_it_needs_as_the_portal_does(overlay):
    objects = rendered(overlay)
    (portal,) = find(objects, "Deployment", "gpugrant-portal")["spec"]["template"]["spec"]["containers"]
    (proxy,) = find(objects, "Deployment", "gpugrant-sessions")["spec"]["template"]["spec"]["containers"]
    (secret,) = [template for template in templates() if template["metadata"]["name"] == "gpugrant"]

    assert proxy["envFrom"] == portal["envFrom"]  # the same settings, the backend's included
    # The login cookie's key, the database, and the key that decrypts a session's JupyterLab token.
    assert {"SECRET_KEY", "DATABASE_URL", "GPUGRANT_CREDENTIALS_KEYS"} <= set(secret["stringData"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portals_gunicorn_workers_share_their_metrics_through_a_fresh_directory(overlay):
    spec = find(rendered(overlay), "Deployment", "gpugrant-portal")["spec"]["template"]["spec"]
    (portal,) = spec["containers"]
    env = {item["name"]: item["value"] for item in portal["env"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in portal["volumeMounts"]}
    volumes = {volume["name"]: volume for volume in spec["volumes"]}

    assert "emptyDir" in volumes[mounts[env["PROMETHEUS_MULTIPROC_DIR"]]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_public_host_is_the_one_django_allows_and_links_to(overlay):
    objects = rendered(overlay)
    data = find(objects, "ConfigMap", "gpugrant")["data"]
    ingress = find(objects, "Ingress", "gpugrant-portal")["spec"]
    (rule,) = ingress["rules"]

    assert rule["host"] in data["ALLOWED_HOSTS"].split(",")
    assert rule["host"] in ingress["tls"][0]["hosts"]
    assert data["PORTAL_BASE_URL"] == f"https://{rule['host']}"
    assert data["CSRF_TRUSTED_ORIGINS"] == f"https://{rule['host']}"
    # /sessions/ is served on the portal's own origin (its login cookie, its origin check).
    sessions = find(objects, "Ingress", "gpugrant-sessions")["spec"]
    assert [r["host"] for r in sessions["rules"]] == [rule["host"]]
    assert sessions["tls"] == ingress["tls"]
    assert sessions["ingressClassName"] == ingress["ingressClassName"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_beat_is_single_and_never_overlaps_itself_in_a_rollout(overlay):
    beat = find(rendered(overlay), "Deployment", "gpugrant-beat")

    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"] == {"type": "Recreate"}
    assert not [
        hpa
        for hpa in of_kind(rendered(overlay), "HorizontalPodAutoscaler")
        if hpa["spec"]["scaleTargetRef"]["name"] == "gpugrant-beat"
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_a_deployment_an_autoscaler_owns_sets_no_replica_count(overlay):
    objects = rendered(overlay)
    for hpa in of_kind(objects, "HorizontalPodAutoscaler"):
        target = find(objects, hpa["spec"]["scaleTargetRef"]["kind"], hpa["spec"]["scaleTargetRef"]["name"])

        assert "replicas" not in target["spec"]  # kubectl apply would reset the autoscaler's count
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_services_and_disruption_budgets_select_the_pods_they_are_for(overlay):
    objects = rendered(overlay)
    deployments = {obj["metadata"]["name"]: obj for obj in of_kind(objects, "Deployment")}
    # Served (a Service), and replicated so that a drain may take one at a time (a PDB).
    assert {s["metadata"]["name"] for s in of_kind(objects, "Service")} == {
        "gpugrant-portal",
        "gpugrant-sessions",
    }
    assert {p["metadata"]["name"] for p in of_kind(objects, "PodDisruptionBudget")} == {
        "gpugrant-portal",
        "gpugrant-sessions",
        "gpugrant-worker",
    }
    for service in of_kind(objects, "Service"):
        pods = deployments[service["metadata"]["name"]]["spec"]["template"]
        assert selects({"matchLabels": service["spec"]["selector"]}, pods["metadata"]["labels"])
        container_ports = {port["name"] for c in pods["spec"]["containers"] for port in c.get("ports", [])}
        assert {port["targetPort"] for port in service["spec"]["ports"]} <= container_ports
    for budget in of_kind(objects, "PodDisruptionBudget"):
        deployment = deployments[budget["metadata"]["name"]]
        assert selects(budget["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])
        assert budget["spec"]["selector"] == deployment["spec"]["selector"]
        # minAvailable would block every drain when a single replica runs (test cluster).
        assert "minAvailable" not in budget["spec"] and budget["spec"]["maxUnavailable"] == 1
    for deployment in deployments.values():
        assert selects(deployment["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_ingress_sends_sessions_to_the_sessions_proxy_and_everything_else_to_the_portal(overlay):
    objects = rendered(overlay)
    routes = {}
    for ingress in of_kind(objects, "Ingress"):
        (rule,) = ingress["spec"]["rules"]
        for path in rule["http"]["paths"]:
            service = find(objects, "Service", path["backend"]["service"]["name"])
            assert path["backend"]["service"]["port"]["name"] in {
                port["name"] for port in service["spec"]["ports"]
            }
            routes[(path["path"], path["pathType"])] = ingress, service["metadata"]["name"]

    assert {route: service for route, (_, service) in routes.items()} == {
        ("/", "Prefix"): "gpugrant-portal",
        ("/sessions/", "Prefix"): "gpugrant-sessions",  # also /sessions, which the proxy redirects
    }
    # Annotations hold for every path of their Ingress: the WebSockets' timeouts stay off the portal's.
    portal, sessions = routes[("/", "Prefix")][0], routes[("/sessions/", "Prefix")][0]
    assert not portal["metadata"].get("annotations")
    annotations = sessions["metadata"]["annotations"]
    for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
        assert int(annotations[f"nginx.ingress.kubernetes.io/{timeout}"]) >= 3600


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_agent_lands_on_gpu_nodes_only_and_takes_no_gpu(overlay):
    objects = rendered(overlay)
    (agent,) = of_kind(objects, "DaemonSet")
    spec = agent["spec"]["template"]["spec"]
    (container,) = spec["containers"]

    assert spec["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    assert {"key": "nvidia.com/gpu", "operator": "Exists"} in spec["tolerations"]
    # No toleration that lets it onto every node.
    assert all(toleration.get("key") for toleration in spec["tolerations"])
    assert spec["runtimeClassName"] == "nvidia"
    env = {item["name"]: item for item in container["env"]}
    assert env["NVIDIA_VISIBLE_DEVICES"]["value"] == "all"
    assert env["NVIDIA_DRIVER_CAPABILITIES"]["value"] == "utility"
    for limits in (container["resources"]["requests"], container["resources"]["limits"]):
        assert "nvidia.com/gpu" not in limits
    # Only Deployments and Jobs besides: none of them may ask for a GPU either.
    for obj in workloads(objects):
        for c in obj["spec"]["template"]["spec"]["containers"]:
            assert "nvidia.com/gpu" not in c["resources"].get("limits", {})


def _agent(overlay: str) -> tuple[dict, dict, dict]:
    """The agent's container, its pod's volumes by name and its mounts by path."""
    (agent,) = of_kind(rendered(overlay), "DaemonSet")
    spec = agent["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    volumes = {volume["name"]: volume for volume in spec["volumes"]}
    return container, volumes, {mount["mountPath"]: mount for mount in container["volumeMounts"]}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_agent_reads_the_kubelet_socket_read_only_and_spools_on_the_node(overlay):
    container, volumes, mounts = _agent(overlay)
    args = arguments(container)

    socket_dir = args["podresources-socket"].rsplit("/", 1)[0]
    assert mounts[socket_dir]["readOnly"] is True
    assert volumes[mounts[socket_dir]["name"]]["hostPath"] == {
        "path": "/var/lib/kubelet/pod-resources",
        "type": "Directory",
    }
    assert volumes[mounts[args["spool"]]["name"]]["hostPath"]["type"] == "DirectoryOrCreate"
    assert not mounts[args["spool"]].get("readOnly", False)
    assert args["source"] == "podresources"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_agent_reads_the_key_of_the_node_it_runs_on(overlay):
    container, volumes, mounts = _agent(overlay)
    env = {item["name"]: item for item in container["env"]}
    args = arguments(container)

    assert env["NODE_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}
    assert args["node"] == "$(NODE_NAME)"
    key_dir, key_name = args["key-file"].rsplit("/", 1)
    assert key_name == "$(NODE_NAME)"
    assert mounts[key_dir]["readOnly"] is True
    assert "subPath" not in mounts[key_dir]  # keys added later must reach running pods
    assert volumes[mounts[key_dir]["name"]]["secret"]["secretName"] == "gpugrant-node-keys"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_agent_reports_at_the_interval_the_portal_expects_to_the_portal_service(overlay):
    objects = rendered(overlay)
    (agent,) = of_kind(objects, "DaemonSet")
    args = arguments(agent["spec"]["template"]["spec"]["containers"][0])
    service = find(objects, "Service", "gpugrant-portal")
    data = find(objects, "ConfigMap", "gpugrant")["data"]

    assert float(args["report-interval"]) == float(data["GPUGRANT_METERING_INTERVAL_S"])
    assert args["portal"] == f"http://{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    assert f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc" in data[
        "ALLOWED_HOSTS"
    ].split(",")
    assert data["SECURE_SSL_REDIRECT"] == "false"  # plain HTTP inside the cluster must not be redirected


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_new_code_waits_for_the_migration_job(overlay):
    objects = rendered(overlay)
    (job,) = of_kind(objects, "Job")
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == [
        "python",
        "manage.py",
        "migrate",
        "--noinput",
    ]
    for obj in of_kind(objects, "Deployment"):
        spec = obj["spec"]["template"]["spec"]
        if component(obj) == "beat":
            continue  # beat never touches the database
        (wait,) = spec["initContainers"]
        assert "manage.py migrate --check" in wait["command"][-1]
        assert wait["image"] == spec["containers"][0]["image"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_container_runs_the_overlays_image(overlay):
    images = {
        c["image"]
        for obj in workloads(rendered(overlay))
        for c in containers(obj["spec"]["template"]["spec"])
    }

    assert images == {"registry.example.kr/gpugrant/gpugrant:0.1.0"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rolling_updates_never_lower_serving_capacity(overlay):
    for name in ("gpugrant-portal", "gpugrant-sessions", "gpugrant-worker"):
        strategy = find(rendered(overlay), "Deployment", name)["spec"]["strategy"]
        assert strategy["type"] == "RollingUpdate" and strategy["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_beat_leaves_a_failed_node_quickly(overlay):
    tolerations = find(rendered(overlay), "Deployment", "gpugrant-beat")["spec"]["template"]["spec"][
        "tolerations"
    ]

    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        (toleration,) = [t for t in tolerations if t["key"] == key]
        assert toleration["effect"] == "NoExecute" and toleration["tolerationSeconds"] <= 60
