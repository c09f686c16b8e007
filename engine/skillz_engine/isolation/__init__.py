"""How tool processes run: process groups, limits, sandboxes, cgroups, dependency environments.

Each module has one job; imports point one way, down this list (nothing here imports a runtime):

* ``command``: the :class:`~.process.Command` of one run (clean env, limits, wrapped argv), and
  the :class:`~.command.Launcher` that keeps an entry's prepared sandbox;
* ``sandbox``: :func:`~.sandbox.prepare` and :func:`~.sandbox.finish`, the argv with prlimit and
  sandbox around it;
* ``detect``: which sandbox works here (``auto``), ``doctor``'s probe;
* ``argv``: the bwrap / firejail / nsjail options; ``policy``: what the tool asked for and sees;
* ``process``: :func:`~.process.run`, the process-group runner; ``output``: its capped output;
  ``spawn``: starting the child (in its cgroup) and awaiting it on a pidfd;
* ``cgroup``: the pids cgroup of a run; ``limits``: limits and their prlimit options;
* ``programs``: finding programs (PATH, system dirs, version-manager shims);
* ``deps``: a script's dependency plan and activation; ``envcache``: environments installed once;
  ``installers``: uv, pip and npm; ``pep723``: inline script metadata.
"""

from __future__ import annotations
