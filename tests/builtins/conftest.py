"""Fixtures of the built-in tests that need the Docker daemon (the `services` built-in)."""

from __future__ import annotations

from tests.runtimes.docker_images import busybox_image, service_root

__all__ = ["busybox_image", "service_root"]
