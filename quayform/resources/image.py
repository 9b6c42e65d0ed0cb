"""Images: read what the spec's images contribute, and pull the missing ones before apply."""

from __future__ import annotations

from typing import Callable

import docker

from quayform.docker_client import describe, is_not_found
from quayform.errors import EngineError
from quayform.resources.base import ImageInfo
from quayform.resources.container_form import image_info


def inspect_image(api: docker.APIClient, ref: str) -> ImageInfo | None:
    """The image's defaults, or None if it is not on the engine yet."""
    try:
        return image_info(api.inspect_image(ref))
    except docker.errors.APIError as exc:
        if is_not_found(exc):
            return None
        raise EngineError(f"inspecting image {ref}: {describe(exc)}") from None


def split_reference(ref: str) -> tuple[str, str]:
    """'reg:5000/a/b:tag' -> ('reg:5000/a/b', 'tag'); digests stay whole; default tag 'latest'."""
    if "@" in ref:
        return ref, ""
    name, _, tag = ref.rpartition(":")
    if name and "/" not in tag:
        return name, tag
    return ref, "latest"


def pull_image(api: docker.APIClient, ref: str, progress: Callable[[str], None]) -> None:
    """Pull `ref`, reporting one line per layer status change; EngineError if it cannot be pulled."""
    repository, tag = split_reference(ref)
    last: dict[str, str] = {}
    try:
        for event in api.pull(repository, tag=tag or None, stream=True, decode=True):
            if "error" in event:
                raise EngineError(f"image {ref} cannot be pulled: {event['error']}")
            layer, status = event.get("id", ""), event.get("status", "")
            if status and last.get(layer) != status and status not in ("Downloading", "Extracting"):
                last[layer] = status
                progress(f"{layer + ': ' if layer else ''}{status}")
    except docker.errors.APIError as exc:
        raise EngineError(f"image {ref} is not on this engine and cannot be pulled: {describe(exc)}") from None
    if inspect_image(api, ref) is None:
        raise EngineError(f"image {ref} is still missing after the pull")
