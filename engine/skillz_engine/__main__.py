from __future__ import annotations

from skillz_engine.cli import main

raise SystemExit(main())
