"""The hotline's developer tools: benchmarks, synthetic recordings and the crisis model's training.

They run from a clone of the repository and are not installed with the hotline: `hotline bench`
imports them from the checkout's tools/ folder. Data they read comes from the repository through
REPO (the shipped config, the labelled utterances in tests/data).
"""

from __future__ import annotations

from pathlib import Path

# The checkout's root: tools/ sits at the top of the repository, beside hotline/ and tests/.
REPO = Path(__file__).resolve().parents[1]
SHIPPED_CONFIG = REPO / "hotline" / "hotline.yaml"
