"""The words of a text as medcode compares them: one tokenizer for code-set terms and notes alike.

Lower case, British spellings, word forms (`resources/word_forms.json`) and plurals folded, so "oedemas"
in a note meets "Edema" in the tabular list; clauses cut where a phrase ends or two are joined.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from importlib import resources

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# Clause breaks for the coverage matcher: punctuation that ends a phrase, and words that join two.
_CLAUSE_BREAK = re.compile(r"[.;:!?\n\r\t]|,\s|\s(?:and|but|or|with|without|while|which|who)\s", re.IGNORECASE)
_BRITISH = (("oedem", "edem"), ("haem", "hem"), ("anaem", "anem"), ("oesoph", "esoph"), ("tumour", "tumor"),
            ("paed", "ped"), ("aetiol", "etiol"), ("leukaem", "leukem"), ("diarrhoea", "diarrhea"),
            ("ischaem", "ischem"), ("foetal", "fetal"), ("orthopaed", "orthoped"))
#: Words that carry no meaning for matching (coverage ignores them, exact matching keeps them).
STOPWORDS = frozenset(
    "a an the of and or in on at to by for from as is are was were be been with due other unspecified "
    "specified nos not elsewhere classified nec site type part parts region use encounter".split()
)


def _s_stem(w: str) -> str:
    """Harman's S-stemmer: plurals only. Heavier stemmers join words coders keep apart
    (Snowball makes "cervical" and "cervicitis" both "cervic")."""
    if len(w) <= 3 or not w.isalpha():
        return w
    if w.endswith("ies") and not w.endswith(("eies", "aies")):
        return w[:-3] + "y"
    if w.endswith("es") and not w.endswith(("aes", "ees", "oes")):
        return w[:-1]
    if w.endswith("s") and not w.endswith(("us", "ss")):
        return w[:-1]
    return w


_FORMS_FILE = resources.files("codesets").joinpath("resources", "word_forms.json")
#: Adjective -> organ and imaging-word folds, kept as data a coder can extend.
WORD_FORMS: dict[str, str] = json.loads(_FORMS_FILE.read_text(encoding="utf-8"))["forms"]
#: A digest of the word forms: a lexicon's version carries it, so changed forms make a lexicon stale.
WORD_FORMS_DIGEST = hashlib.sha256(_FORMS_FILE.read_bytes()).hexdigest()[:12]


@lru_cache(maxsize=200_000)
def normalize_word(word: str) -> str:
    """One word as both sides compare it: lower case, American spelling, word forms and plurals folded."""
    w = word.lower()
    for uk, us in _BRITISH:
        if uk in w:
            w = w.replace(uk, us)
    return _s_stem(WORD_FORMS.get(w, w))


def words(text: str) -> list[tuple[str, int, int]]:
    """Normalized words of `text` with their character offsets in it."""
    return [(normalize_word(m.group()), m.start(), m.end()) for m in _WORD.finditer(text)]


def clauses(text: str, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int]]:
    """Character ranges of the clauses in text[start:end]."""
    end = len(text) if end is None else end
    pos = start
    for m in _CLAUSE_BREAK.finditer(text, start, end):
        if m.start() > pos:
            yield pos, m.start()
        pos = m.end()
    if pos < end:
        yield pos, end


def term_words(text: str) -> Sequence[str]:
    """The normalized words of a term, as the lexicon keys it."""
    return tuple(w for w, _, _ in words(text))
