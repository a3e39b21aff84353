"""medcode: clinical notes in, ranked ICD-10-CM / ICD-10-PCS suggestions with evidence out.

The public Python API. Heavy modules (torch, faiss, spaCy) load lazily, on first use of `Coder`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from nlp.coder import Coder
    from medcode.types import Evidence, Suggestion

__all__ = ["Coder", "Evidence", "Suggestion", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "Coder":
        from nlp.coder import Coder

        return Coder
    if name in {"Evidence", "Suggestion"}:
        from medcode import types

        return getattr(types, name)
    raise AttributeError(name)
