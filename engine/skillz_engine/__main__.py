from __future__ import annotations

from skillz_engine.cli.main import main

raise SystemExit(main())
