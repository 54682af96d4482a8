"""Renders deploy/'s kustomizations in Python, for machines without kustomize or kubectl.

Only what deploy/ uses: ``resources`` (files and directories), ``patches`` given by ``path``
(strategic merge), ``images`` (newName/newTag) and ``labels`` without selectors. Anything else in a
kustomization, or a patch list whose merge key is not known here, raises instead of being rendered
wrongly; test_render.py compares the result with ``kubectl kustomize`` (the kubectl tests/cluster
builds) wherever the test control plane is built.
"""

import copy
from pathlib import Path

import yaml

SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "patches", "images", "labels"}
# Strategic merge keys of the pod spec lists the overlays patch (from the Kubernetes API's
# x-kubernetes-patch-merge-key). Other lists of objects are replaced, as the API does for lists
# without a merge strategy (args, tolerations, an Ingress's tls and rules).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}
# Lists that the API merges by a key this renderer does not implement: a patch touching one fails.
UNSUPPORTED_LISTS = {
    "ports",
    "imagePullSecrets",
    "topologySpreadConstraints",
    "finalizers",
    "hostAliases",
    "volumeDevices",
    "ephemeralContainers",
    "resourceClaims",
    "readinessGates",
    "envFrom",
}


class UnsupportedKustomization(Exception):
    pass


def documents(path: Path) -> list[dict]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


def object_id(obj: dict) -> tuple[str, str, str]:
    metadata = obj.get("metadata", {})
    return obj["kind"], metadata.get("namespace", ""), metadata["name"]


def render(directory: Path) -> list[dict]:
    """The objects ``kubectl kustomize directory`` would print, in resource order."""
    (kustomization,) = documents(directory / "kustomization.yaml")
    unknown = set(kustomization) - SUPPORTED_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{directory}: {sorted(unknown)} not implemented here")
    objects: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = (directory / resource).resolve()
        objects.extend(render(path) if path.is_dir() else documents(path))
    seen: set[tuple[str, str, str]] = set()
    for obj in objects:
        if object_id(obj) in seen:
            raise UnsupportedKustomization(f"{directory}: {object_id(obj)} appears twice")
        seen.add(object_id(obj))
    for patch in kustomization.get("patches", []):
        if set(patch) != {"path"}:
            raise UnsupportedKustomization(f"{directory}: only patches given by path are implemented")
        for document in documents(directory / patch["path"]):
            _apply_patch(objects, document, directory / patch["path"])
    for image in kustomization.get("images", []):
        _set_image(objects, image)
    for labels in kustomization.get("labels", []):
        _add_labels(objects, labels)
    return objects


def _apply_patch(objects: list[dict], patch: dict, source: Path) -> None:
    kind, namespace, name = object_id(patch)
    targets = [
        obj
        for obj in objects
        if obj["kind"] == kind
        and obj["metadata"]["name"] == name
        and (not namespace or obj["metadata"].get("namespace", "") == namespace)
    ]
    if len(targets) != 1:
        raise UnsupportedKustomization(f"{source}: {kind}/{name} matches {len(targets)} objects")
    merged = strategic_merge(targets[0], patch)
    targets[0].clear()
    targets[0].update(merged)


def strategic_merge(original, patch, field: str = ""):
    """``patch`` merged into ``original`` (neither is changed) with the API's strategic merge rules."""
    if isinstance(patch, dict) and isinstance(original, dict):
        merged = copy.deepcopy(original)
        for key, value in patch.items():
            if value is None:
                merged.pop(key, None)
            elif key in merged:
                merged[key] = strategic_merge(merged[key], value, key)
            else:
                merged[key] = copy.deepcopy(value)
        return merged
    if isinstance(patch, list) and isinstance(original, list):
        if field in UNSUPPORTED_LISTS:
            raise UnsupportedKustomization(f"merging the list {field!r} is not implemented here")
        if field in MERGE_KEYS:
            return _merge_by_key(original, patch, MERGE_KEYS[field])
    return copy.deepcopy(patch)


def _merge_by_key(original: list[dict], patch: list[dict], key: str) -> list[dict]:
    merged = copy.deepcopy(original)
    for item in patch:
        position = next((i for i, existing in enumerate(merged) if existing[key] == item[key]), None)
        if position is None:
            merged.append(copy.deepcopy(item))
        else:
            merged[position] = strategic_merge(merged[position], item)
    return merged


def pod_specs(obj: dict) -> list[dict]:
    """The pod spec of a workload (Deployment, DaemonSet, StatefulSet, Job) or of a Pod."""
    if obj["kind"] == "Pod":
        return [obj["spec"]]
    template = obj.get("spec", {}).get("template")
    return [template["spec"]] if template else []


def _set_image(objects: list[dict], image: dict) -> None:
    if set(image) - {"name", "newName", "newTag"}:
        raise UnsupportedKustomization(f"images: only name, newName and newTag are implemented: {image}")
    for obj in objects:
        for spec in pod_specs(obj):
            for container in [*spec.get("initContainers", []), *spec["containers"]]:
                name, _, tag = container["image"].partition(":")
                if name == image["name"]:
                    new_name = image.get("newName", name)
                    new_tag = image.get("newTag", tag)
                    container["image"] = f"{new_name}:{new_tag}" if new_tag else new_name


def _add_labels(objects: list[dict], labels: dict) -> None:
    if set(labels) - {"pairs", "includeSelectors"} or labels.get("includeSelectors", False):
        raise UnsupportedKustomization(f"labels: only pairs without selectors are implemented: {labels}")
    for obj in objects:
        obj["metadata"].setdefault("labels", {}).update(labels["pairs"])
