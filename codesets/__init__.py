"""Code sets: typed, immutable records per code, one loader per release, a registry by system."""

from codesets.types import Code, CodeSet, normalize_code

__all__ = ["Code", "CodeSet", "normalize_code"]
