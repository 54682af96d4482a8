"""Rules for a catalogue environment's fields: a well-formed image reference, pinned by tag or digest."""

import re

from django.utils.translation import gettext as _

# registry/path:tag or @sha256:digest — the shape of an OCI image reference, kept deliberately strict. Jobs
# naming their own image are held to the same shape (scheduler/validation.py).
IMAGE = re.compile(
    r"^(?:[a-z0-9.-]+(?::[0-9]+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)

SLUG_MAX = 64


def image_reference_errors(image: str) -> list[str]:
    """Why ``image`` cannot be offered in the catalogue (empty: it can).

    A catalogue image must stay the same image over time, so it is pinned: by a tag other than
    ``latest`` (which registries move), or by a sha256 digest.
    """
    if not isinstance(image, str) or not image or len(image) > 300 or not IMAGE.match(image):
        return [
            _(
                "Not an image reference: registry/repository[:tag][@sha256:digest], e.g. "
                "nvcr.io/nvidia/pytorch:24.10-py3."
            )
        ]
    name, _at, digest = image.partition("@")
    last_part = name.rsplit("/", 1)[-1]
    tag = last_part.partition(":")[2]
    if not digest and not tag:
        return [_("Pin the image by a tag or a sha256 digest, e.g. …/pytorch:24.10-py3.")]
    if not digest and tag == "latest":
        return [_("The tag latest moves; pin the image by a version tag or a sha256 digest.")]
    return []


def environment_errors(
    *,
    name: str,
    display_name: str,
    image: str,
    cuda_version: str,
    for_training: bool,
    for_inference: bool,
    for_sessions: bool = False,
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not name or len(name) > SLUG_MAX or not all(c.isascii() and (c.isalnum() or c in "._-") for c in name):
        errors["name"] = [_("A short name of letters, digits, dots, dashes and underscores.")]
    if not display_name.strip():
        errors["display_name"] = [_("Give a name people will recognise, e.g. PyTorch 2.5.")]
    if problems := image_reference_errors(image):
        errors["image"] = problems
    if not cuda_version.strip():
        errors["cuda_version"] = [_("Give the CUDA version the image is built for, e.g. 12.4.")]
    if not (for_training or for_inference or for_sessions):
        errors["for_training"] = [_("An environment suits training, inference, sessions, or several.")]
    return errors
