"""Load benchmark of the bridge: `python bench/load.py [--quick] [--users N] [--rate R] ...`."""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script: import `bench` and `tests` from the repository root, not from bench/.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from bench.run import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
