"""The running state: the live registry (make-before-break swap), reload, sessions, disclosure."""

from __future__ import annotations
