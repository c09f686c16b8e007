"""Toggles tools/conformance-toggled-tool in the scratch root: the tool list changes on reload."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

request = json.loads(sys.stdin.readline())
here = Path.cwd().resolve()
scratch = [Path(r) for r in request["params"]["context"]["roots"] if here not in Path(r).resolve().parents]
if not scratch:
    result = {"content": [{"type": "text", "text": "served without a scratch root"}], "isError": True}
else:
    entry = scratch[0] / "tools" / "conformance-toggled-tool"
    if entry.exists():
        shutil.rmtree(entry)
    else:
        entry.mkdir(parents=True)
        manifest = "kind: command\ndescription: Appears and disappears.\nargv: [printf, toggled]\n"
        (entry / "manifest.yaml").write_text(manifest)
    result = f"toggled {entry}"
print(json.dumps({"jsonrpc": "2.0", "id": 1, "result": result}), flush=True)
