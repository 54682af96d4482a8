"""The Dockerfile, read statically (no Docker daemon here to build it): what deploy/ relies on in the image."""

import re
import shlex
import tomllib

from tests.deploy.manifests import OVERLAYS, ROOT, containers, rendered, workloads

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


def _instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def _arguments() -> dict[str, str]:
    return dict(
        value.split("=", 1) for keyword, value in _instructions() if keyword == "ARG" and "=" in value
    )


def test_every_stage_starts_from_a_pinned_python_3_11_slim():
    bases = [value.split()[0] for keyword, value in _instructions() if keyword == "FROM"]
    resolved = [_arguments().get(base.strip("${}"), base) if base.startswith("$") else base for base in bases]

    assert len(resolved) == 2
    for base in resolved:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?", base), base


def test_it_installs_with_the_constraints_the_tests_ran_with():
    runs = [value for keyword, value in _instructions() if keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run]

    assert installs and all("--constraint constraints.txt" in run for run in installs)
    assert any(".[agent]" in run for run in installs)  # grpcio for the node agent's kubelet client
    assert (ROOT / "constraints.txt").exists()


def test_static_files_are_collected_at_build_time_without_leaving_a_secret_behind():
    (collect,) = [
        value for keyword, value in _instructions() if keyword == "RUN" and "collectstatic" in value
    ]

    variable_dir = re.search(r"GPUGRANT_VAR_DIR=(\S+)", collect).group(1)
    assert f"rm -rf {variable_dir}" in collect


def test_the_image_runs_as_the_non_root_user_the_manifests_name():
    users = [value for keyword, value in _final_stage() if keyword == "USER"]
    uid, _, gid = users[-1].partition(":")

    assert uid.isdigit() and int(uid) != 0 and gid.isdigit() and int(gid) != 0
    for overlay in OVERLAYS:
        for obj in workloads(rendered(overlay)):
            context = obj["spec"]["template"]["spec"]["securityContext"]
            if context.get("runAsNonRoot"):
                assert context["runAsUser"] == int(uid) and context["runAsGroup"] == int(gid)


def test_the_default_command_is_gunicorn_on_the_port_the_manifests_use():
    (command,) = [value for keyword, value in _final_stage() if keyword == "CMD"]
    arguments = shlex.split(command.strip("[]").replace('", "', '" "'))

    assert arguments[:2] == ["gunicorn", "portal.wsgi:application"]
    assert "--bind=0.0.0.0:8000" in arguments
    assert ("EXPOSE", "8000") in _final_stage()
    assert ("ENV", "PATH=/opt/venv/bin:$PATH") in [
        (keyword, value.split()[0]) for keyword, value in _final_stage() if keyword == "ENV"
    ]


def test_the_manifests_commands_work_from_the_images_working_directory():
    (workdir,) = [value for keyword, value in _final_stage() if keyword == "WORKDIR"]

    assert workdir == "/app"
    assert ("COPY", "--from=build /app /app") in _final_stage()
    for overlay in OVERLAYS:
        for obj in workloads(rendered(overlay)):
            for container in containers(obj["spec"]["template"]["spec"]):
                command = " ".join(container.get("command", []) + container.get("args", []))
                if "manage.py" in command:
                    assert (ROOT / "manage.py").exists()
                assert command.split()[0] in {"python", "gunicorn", "uvicorn", "celery", "sh"}


def test_the_sessions_proxys_server_and_clients_are_installed_in_the_image():
    # The install takes the main dependencies (plus the agent extra): uvicorn serves portal.asgi with
    # WebSockets (websockets' sans-I/O implementation, --ws websockets-sansio), httpx and websockets forward.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    main = {
        re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()
        for requirement in project["dependencies"]
    }
    pinned = dict(
        line.split("==", 1) for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line
    )

    for package in ("uvicorn", "websockets", "httpx"):
        assert package in main and package in pinned, package
    uvicorn_commands = [
        container["args"]
        for overlay in OVERLAYS
        for obj in workloads(rendered(overlay))
        for container in obj["spec"]["template"]["spec"]["containers"]
        if container.get("args", [""])[0] == "uvicorn"
    ]
    assert uvicorn_commands and all(args[1] == "portal.asgi:application" for args in uvicorn_commands)
    assert (ROOT / "portal" / "asgi.py").exists()


def test_the_build_context_leaves_out_local_state_and_what_the_image_does_not_run():
    ignored = {
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert {".git", ".venv", "var", "tests", "staticfiles"} <= ignored
    # What the image runs must not be ignored.
    for needed in (
        "portal",
        "quotas",
        "scheduler",
        "workers",
        "manage.py",
        "constraints.txt",
        "pyproject.toml",
    ):
        assert needed not in ignored
