"""FastMCP's proxy of the bare SDK echo server (``echo_ll.py`` over stdio), served over
Streamable HTTP: ``python proxy_fastmcp.py PORT`` serves ``http://127.0.0.1:PORT/mcp``.

The baseline of the ``upstream`` scenario's 20-client row; it runs only where FastMCP is
installed (``pip install fastmcp==4.1.2``)."""

from __future__ import annotations

import sys
from pathlib import Path

from fastmcp.client.transports import StdioTransport
from fastmcp.server.server import create_proxy

ECHO = Path(__file__).with_name("echo_ll.py")

if __name__ == "__main__":
    upstream = StdioTransport(command=sys.executable, args=[str(ECHO)])
    proxy = create_proxy(upstream, name="echo-proxy")  # FastMCP 4: as_proxy became create_proxy
    proxy.run(transport="http", host="127.0.0.1", port=int(sys.argv[1]), show_banner=False)
