"""Abbreviation expansion: pairs the note defines itself ("long form (SF)", scispaCy's
Schwartz & Hearst detector) plus a clinical abbreviation list kept as data
(`resources/abbreviations.json`). Tokens and text are never changed; expansions are recorded as
`doc._.expansions[(start_char, end_char)] = "long form"` (lower-case).
"""

import warnings

from scispacy.abbreviation import AbbreviationDetector
from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from nlp.rules import load_resource
from nlp.senses import Senses, ambiguous_senses, cued

CharRange = tuple[int, int]


def _token_expansion(token: Token) -> str | None:
    """The long form of the abbreviation this token is (or is part of), else None."""
    expansions: dict[CharRange, str] | None = token.doc._.expansions
    if not expansions:
        return None
    start = token.idx
    found = expansions.get((start, start + len(token.text)))
    if found is not None:
        return found
    for (s, e), long_form in expansions.items():
        if s <= start < e:
            return long_form
    return None


def spelled_pieces(text: str, begin: int, end: int,
                   expansions: dict[CharRange, str] | None) -> list[tuple[str, CharRange | None]]:
    """text[begin:end] in its stretches, in order: the plain ones (range None) and, for each abbreviation inside
    it, its long form with the abbreviation's range."""
    inside = sorted((s, e, v) for (s, e), v in (expansions or {}).items() if begin <= s and e <= end)
    pieces: list[tuple[str, CharRange | None]] = []
    cursor = begin
    for s, e, long_form in inside:
        if s < cursor:
            continue  # overlapping ranges: keep the first
        pieces += [(text[cursor:s], None), (long_form, (s, e))]
        cursor = e
    pieces.append((text[cursor:end], None))
    return pieces


def expanded_text(span: Span) -> str:
    """The span's text, lower-cased, with each abbreviation inside it replaced by its long form."""
    pieces = spelled_pieces(span.doc.text, span.start_char, span.end_char, span.doc._.expansions)
    return "".join(piece.lower() if where is None else piece for piece, where in pieces)


@Language.factory(
    "medcode_abbreviations",
    default_config={"abbreviations": "abbreviations.json", "detect_definitions": True},
    assigns=["doc._.expansions", "token._.expansion"],
)
def make_abbreviations(
    nlp: Language, name: str, *, abbreviations: str, detect_definitions: bool
) -> "Abbreviations":
    return Abbreviations(nlp, abbreviations=abbreviations, detect_definitions=detect_definitions)


class Abbreviations:
    """Sets `doc._.expansions`; `Token._.expansion` and `Span._.expanded` read it."""

    def __init__(
        self, nlp: Language, *, abbreviations: str = "abbreviations.json", detect_definitions: bool = True
    ) -> None:
        data = load_resource(abbreviations)
        self.table: dict[str, str] = {k: v.lower() for k, v in data["abbreviations"].items()}
        self.ambiguous: dict[str, Senses] = ambiguous_senses(data)
        self.detector = AbbreviationDetector(nlp) if detect_definitions else None
        if not Doc.has_extension("expansions"):
            Doc.set_extension("expansions", default=None)
        if not Token.has_extension("expansion"):
            Token.set_extension("expansion", getter=_token_expansion)
        if not Span.has_extension("expanded"):
            Span.set_extension("expanded", getter=expanded_text)

    def _disambiguate(self, token: Token, senses: Senses) -> str | None:
        """The one sense whose cues occur in the token's sentence (±12 tokens without sentences); where none
        does ("Discharge dx: - SBP"), the one sense whose cues occur in the note."""
        doc = token.doc
        if doc.has_annotation("SENT_START"):
            context = token.sent.text.lower()
        else:
            context = doc[max(token.i - 12, 0) : token.i + 13].text.lower()
        hits = cued(senses, context) or cued(senses, doc.text.lower())
        return hits[0] if len(hits) == 1 else None

    def _from_list(self, token: Token) -> str | None:
        text = token.text
        long_form = self.table.get(text)
        if long_form is not None:
            return long_form
        senses = self.ambiguous.get(text)
        if senses is not None:
            return self._disambiguate(token, senses)
        # plurals: "UTIs", "MIs", "DVTs"
        if len(text) > 2 and text[-1] == "s" and text[-2].isupper():
            singular = self.table.get(text[:-1])
            if singular is not None:
                return singular + "s"
        return None

    def __call__(self, doc: Doc) -> Doc:
        expansions: dict[CharRange, str] = {}
        for token in doc:
            if token.is_space or token.is_punct or token.like_num:
                continue
            long_form = self._from_list(token)
            if long_form is not None:
                expansions[(token.idx, token.idx + len(token.text))] = long_form
        if self.detector is not None and "(" in doc.text:
            doc._.abbreviations = []
            with warnings.catch_warnings():
                # no definition in the note leaves scispaCy's matcher empty (spaCy W036): normal
                warnings.filterwarnings("ignore", message=r"\[W036\]")
                self.detector(doc)
            for short in doc._.abbreviations:
                long_form = short._.long_form
                if isinstance(long_form, Span) and len(long_form):
                    expansions[(short.start_char, short.end_char)] = " ".join(long_form.text.lower().split())
        doc._.expansions = expansions
        return doc
