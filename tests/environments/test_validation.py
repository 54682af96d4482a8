"""Which image references the catalogue accepts: well formed, and pinned by a tag or a digest."""

import pytest

from portal.environments.validation import environment_errors, image_reference_errors

DIGEST = "sha256:" + "a" * 64

GOOD = {
    "docker hub, version tag": "pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
    "registry with a port": "registry.example.kr:5000/ml/jax:0.4.35",
    "nvcr, nested path": "nvcr.io/nvidia/tritonserver:24.10-py3",
    "digest only": f"registry.example.kr/ml/vllm@{DIGEST}",
    "tag and digest": f"vllm/vllm-openai:v0.6.3@{DIGEST}",
    "latest, but pinned by digest": f"vllm/vllm-openai:latest@{DIGEST}",
}
BAD = {
    "no tag or digest": ("pytorch/pytorch", "Pin the image"),
    "latest": ("nvcr.io/nvidia/pytorch:latest", "latest moves"),
    "port, but no tag": ("registry.example.kr:5000/ml/jax", "Pin the image"),
    "upper case repository": ("PyTorch/pytorch:2.5", "Not an image reference"),
    "spaces": ("pytorch/pytorch: 2.5", "Not an image reference"),
    "short digest": ("pytorch/pytorch@sha256:abc", "Not an image reference"),
    "empty": ("", "Not an image reference"),
    "scheme": ("https://nvcr.io/nvidia/pytorch:24.10", "Not an image reference"),
}


@pytest.mark.parametrize("image", GOOD.values(), ids=GOOD.keys())
def test_it_accepts_pinned_well_formed_references(image):
    assert image_reference_errors(image) == []


@pytest.mark.parametrize(("image", "message"), BAD.values(), ids=BAD.keys())
def test_it_refuses_malformed_or_unpinned_references(image, message):
    errors = image_reference_errors(image)
    assert len(errors) == 1 and message in errors[0]


def test_it_names_each_bad_field():
    errors = environment_errors(
        name="has space",
        display_name=" ",
        image="pytorch/pytorch",
        cuda_version="",
        for_training=False,
        for_inference=False,
    )
    assert set(errors) == {"name", "display_name", "image", "cuda_version", "for_training"}
