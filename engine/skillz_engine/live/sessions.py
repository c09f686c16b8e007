"""Per-client state: which skills and bundles one client connection has activated.

The server keeps one :class:`SessionStore`; a client connection gets its :class:`Activations` the
first time it sends a request and loses them when the connection closes (the server hooks the
connection's teardown). Built-ins reach the activations of the calling client through
``CallContext.activations`` (``None`` when the connection has no identity: a 2026-07-28 request
over HTTP carries no session, so nothing can be remembered between two of its requests).

Only what the client asked for is stored (skill names and ``@bundle`` references, in order);
what that means right now (bundles expanded, ``dependsOn`` followed, ``activation: always``
skills added) is computed against the snapshot being served, see :mod:`skillz_engine.live.disclosure`.
:meth:`Activations.activate` does that computation for callers below the live layer (a skill
served as a tool), which may not import it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from skillz_engine.build.snapshot import Snapshot
from skillz_engine.live.disclosure import active_skills, tools_differ

Notify = Callable[[], Awaitable[None]]


@dataclass(eq=False)
class Activations:
    """What one client activated (``explicit``: skill names and ``@bundle`` references)."""

    key: str
    notify: Notify | None = None  # tells this client (only) that its tool list changed
    explicit: tuple[str, ...] = ()

    def add(self, ref: str) -> bool:
        """Remember ``ref``; ``False`` when it was already there."""
        if ref in self.explicit:
            return False
        self.explicit = (*self.explicit, ref)
        return True

    def remove(self, ref: str) -> bool:
        """Forget ``ref``; ``False`` when it was not there."""
        if ref not in self.explicit:
            return False
        self.explicit = tuple(r for r in self.explicit if r != ref)
        return True

    async def tools_changed(self) -> None:
        if self.notify is not None:
            await self.notify()

    async def activate(self, ref: str, snapshot: Snapshot) -> bool:
        """Remember ``ref`` and, when that changes the tools this client sees in ``snapshot``,
        tell it; ``True`` when it was told."""
        before = active_skills(snapshot, self.explicit)
        if not self.add(ref) or not tools_differ(snapshot, before, active_skills(snapshot, self.explicit)):
            return False
        await self.tools_changed()
        return True


@dataclass
class SessionStore:
    """Every live client's :class:`Activations`, by session key."""

    sessions: dict[str, Activations] = field(default_factory=dict)

    def get(self, key: str, notify: Notify | None = None) -> tuple[Activations, bool]:
        """The activations of ``key`` and whether they were just created."""
        act = self.sessions.get(key)
        if act is not None:
            return act, False
        act = Activations(key, notify)
        self.sessions[key] = act
        return act, True

    def drop(self, key: str) -> None:
        self.sessions.pop(key, None)

    def __len__(self) -> int:
        return len(self.sessions)
