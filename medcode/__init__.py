"""medcode: clinical notes in, ranked ICD-10-CM / ICD-10-PCS suggestions with evidence out.

The bottom layer: settings, errors and the typed data every other package shares. It imports nothing
above it; the engine is `nlp.Coder` (`from nlp import Coder`).
"""

from __future__ import annotations

from medcode.types import Evidence, Suggestion

__version__ = "0.1.0"

__all__ = ["Evidence", "Suggestion", "__version__"]
