"""Imported MCP servers (``kind: mcp-server``): the engine as a client of other MCP servers.

The kind's runtime (:class:`~skillz_engine.mcp.upstream.runtime.McpServerRuntime`) is loaded by
name from the kind registry, so nothing below ``mcp`` imports the SDK. Its parts:

* :mod:`~skillz_engine.mcp.upstream.listing`: what an upstream offers, as MCP JSON, and its copy
  in the state directory (served before a lazy upstream has started);
* :mod:`~skillz_engine.mcp.upstream.connection`: one upstream's supervisor (connect, list, watch
  ``list_changed``, restart with backoff, stop when idle) and the requests relayed to it;
* :mod:`~skillz_engine.mcp.upstream.launch`: how a manifest becomes a transport (stdio with the
  script tools' clean environment, sandbox and limits; Streamable HTTP; legacy SSE);
* :mod:`~skillz_engine.mcp.upstream.exposure`: a listing as served definitions (namespace,
  include/exclude, per-tool overrides), passing the upstream's schemas and ``_meta`` through.
"""
