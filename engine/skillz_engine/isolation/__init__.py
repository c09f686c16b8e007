"""How tool processes run: process groups, limits, sandboxes, cgroups, dependency environments."""

from __future__ import annotations
