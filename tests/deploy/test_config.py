"""The ConfigMaps and Secret templates carry settings gpugrant reads, and the settings load from them."""

import os
import re
import secrets
import subprocess
import sys

import pytest
from cryptography.fernet import Fernet

from tests.deploy.kustomize import pod_specs
from tests.deploy.manifests import OVERLAYS, ROOT, containers, find, rendered, templates, workloads

SETTINGS = ROOT / "portal" / "settings.py"
# Read by something other than portal/settings.py, or not read yet, and why.
NOT_SETTINGS = {
    "GPUGRANT_K8S_PRODUCT_MAP": "settings has the same map built in (docs/kubernetes.md)",
}


def _settings_variables() -> set[str]:
    text = SETTINGS.read_text()
    return set(
        re.findall(r'(?:environ\.get|environ\[|env_bool|env_int|env_list)\(?\s*"([A-Z][A-Z0-9_]*)"', text)
    )


def test_the_settings_scan_finds_what_settings_reads():
    assert {"SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS", "SECURE_SSL_REDIRECT"} <= _settings_variables()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_configmap_key_is_a_setting(overlay):
    objects = rendered(overlay)
    for name in ("gpugrant", "gpugrant-scheduler"):
        keys = set(find(objects, "ConfigMap", name)["data"])
        assert keys - _settings_variables() - set(NOT_SETTINGS) == set(), name


def test_the_secret_template_holds_the_production_credentials_and_only_settings():
    secret = find(templates(), "Secret", "gpugrant")

    assert set(secret["stringData"]) <= _settings_variables()
    assert {"SECRET_KEY", "DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL"} <= set(secret["stringData"])
    # Placeholders only: nothing here may work as a credential.
    assert all("REPLACE-ME" in value for value in secret["stringData"].values())


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_referenced_configmap_and_secret_exists_in_the_pods_namespace(overlay):
    objects = rendered(overlay)
    available = {
        (obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"])
        for obj in objects + templates()
        if obj["kind"] in ("ConfigMap", "Secret")
    }
    for obj in workloads(objects):
        namespace = obj["metadata"]["namespace"]
        for spec in pod_specs(obj):
            wanted = set()
            for container in containers(spec):
                for source in container.get("envFrom", []):
                    if "configMapRef" in source:
                        wanted.add(("ConfigMap", namespace, source["configMapRef"]["name"]))
                    if "secretRef" in source:
                        wanted.add(("Secret", namespace, source["secretRef"]["name"]))
            for volume in spec.get("volumes", []):
                if "secret" in volume:
                    wanted.add(("Secret", namespace, volume["secret"]["secretName"]))
            assert wanted <= available, obj["metadata"]["name"]


def test_the_settings_load_in_production_from_the_configmap_and_a_filled_in_secret():
    objects = rendered("production")
    environment = {
        **find(objects, "ConfigMap", "gpugrant")["data"],
        **find(templates(), "Secret", "gpugrant")["stringData"],
        "SECRET_KEY": secrets.token_urlsafe(50),
    }
    environment = {key: value.replace("REPLACE-ME", "filled-in") for key, value in environment.items()}
    environment["GPUGRANT_CREDENTIALS_KEYS"] = Fernet.generate_key().decode()  # a key, not a password
    keep = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"],
        cwd=ROOT,
        env={**keep, **environment, "GPUGRANT_VAR_DIR": "/nonexistent/never-written"},
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    # The one expected warning: HTTPS redirects are the Ingress's job (deploy/base/configmap.yaml).
    assert set(re.findall(r"\((security\.[WE]\d+)\)", result.stdout + result.stderr)) == {"security.W008"}
