"""Fixtures of the runtime tests that need a real component (the Docker daemon)."""

from __future__ import annotations

from tests.runtimes.docker_images import busybox_image, service_root

__all__ = ["busybox_image", "service_root"]
