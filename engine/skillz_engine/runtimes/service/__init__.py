"""``kind: service``: Docker containers tools depend on (see :mod:`.runtime`, :mod:`.handle`)."""

from __future__ import annotations

from skillz_engine.runtimes.service.runtime import ServiceRuntime

__all__ = ["ServiceRuntime"]
