"""The platform samples (tests/channels/samples/<platform>/<name>.json): pure data, no
database and no Temporal, so these tests run in the fast layer."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

SAMPLES = Path(__file__).parent / "samples"


def sample_ids() -> list[str]:
    return sorted(f"{p.parent.name}/{p.stem}" for p in SAMPLES.glob("*/*.json"))


def load(sample_id: str) -> dict[str, Any]:
    data = json.loads((SAMPLES / f"{sample_id}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return copy.deepcopy(data)
