"""summary.json: one file per run with the numbers and the config that produced them."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

SUMMARY_NAME = "summary.json"


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def write_summary(run_dir: Path, summary: dict[str, Any]) -> Path:
    """Write RUN_DIR/summary.json atomically (NaN/inf become null) and return its path."""
    path = run_dir / SUMMARY_NAME
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_clean(summary), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def read_summary(run_dir: Path) -> dict[str, Any]:
    """Load RUN_DIR/summary.json."""
    return json.loads((run_dir / SUMMARY_NAME).read_text())
