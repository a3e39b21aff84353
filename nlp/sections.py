"""Section headers ("HPI:", "Family history:", "Assessment and Plan:") and the sections they open.

Headers come from `resources/section_headers.json`. A header counts where it starts a line and is
followed by ':' or the end of the line, or, followed by ':', where it follows a sentence's final
punctuation on the same line ("... and SOB.  PMH: HTN").
"""

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable

from spacy.language import Language
from spacy.tokens import Doc, Span, Token

from nlp.rules import load_resource

#: `doc.spans` key of the section bodies (label = category).
SECTIONS_KEY = "sections"
#: `doc.spans` key of the headers themselves (label = category).
HEADERS_KEY = "section_headers"

_BULLET = r"(?:(?:[-*•·>#]|\d{1,2}[.)]|[a-zA-Z][.)])[ \t]*)?"


def _section_of(token: Token) -> str | None:
    """The category of the last header at or before `token`; None before the first header."""
    doc = token.doc
    if HEADERS_KEY not in doc.spans:
        return None
    category = None
    for header in doc.spans[HEADERS_KEY]:
        if header.start > token.i:
            break
        category = header.label_
    return category


def _span_section(span: Span) -> str | None:
    return _section_of(span.doc[span.start]) if len(span) else None


def section_lookup(doc: Doc) -> Callable[[Span], str | None]:
    """`span._.section` for the many spans of one doc: its headers read once (`_section_of` walks them
    all, making a Span of each, on every call), then a binary search per span."""
    headers = list(doc.spans[HEADERS_KEY]) if HEADERS_KEY in doc.spans else []
    starts = [h.start for h in headers]  # in order: `Sections` writes them so
    labels = [h.label_ for h in headers]

    def section(span: Span) -> str | None:
        k = bisect_right(starts, span.start) if len(span) else 0
        return labels[k - 1] if k else None

    return section


@Language.factory(
    "medcode_sections",
    default_config={"headers": "section_headers.json"},
    assigns=["doc.spans", "token._.section"],
)
def make_sections(nlp: Language, name: str, *, headers: str) -> "Sections":
    return Sections(headers=headers)


class Sections:
    """Writes `doc.spans["sections"]` (bodies) and `doc.spans["section_headers"]`; `Token._.section`."""

    def __init__(self, *, headers: str = "section_headers.json") -> None:
        data = load_resource(headers)
        self.category: dict[str, str] = {}
        for category, phrases in data["sections"].items():
            for phrase in phrases:
                self.category[self._key(phrase)] = category
        alternatives = "|".join(
            r"[ \t]+".join(re.escape(word) for word in phrase.split())
            for phrase in sorted(self.category, key=len, reverse=True)
        )
        self._at_line_start = re.compile(
            rf"^[ \t]*(?P<full>{_BULLET}(?P<h>{alternatives}))[ \t]*(?::|(?=[ \t]*(?:\r|\n|$)))",
            re.IGNORECASE | re.MULTILINE,
        )
        self._after_sentence = re.compile(
            rf"(?<=[.!?])[ \t]+(?P<full>(?P<h>{alternatives}))[ \t]*:", re.IGNORECASE
        )
        for ext, kwargs in (("section", {"getter": _section_of}),):
            if not Token.has_extension(ext):
                Token.set_extension(ext, **kwargs)
        if not Span.has_extension("section"):
            Span.set_extension("section", getter=_span_section)

    @staticmethod
    def _key(phrase: str) -> str:
        return " ".join(phrase.lower().split())

    def _matches(self, text: str) -> Iterable[tuple[int, int, str]]:
        found = []
        for regex in (self._at_line_start, self._after_sentence):
            for m in regex.finditer(text):
                found.append((m.start("full"), m.end(), self.category[self._key(m.group("h"))]))
        found.sort()
        last_end = -1
        for start, end, category in found:
            if start >= last_end:
                yield start, end, category
                last_end = end

    def __call__(self, doc: Doc) -> Doc:
        headers: list[Span] = []
        for start, end, category in self._matches(doc.text):
            span = doc.char_span(start, end, label=category, alignment_mode="expand")
            if span is not None and (not headers or span.start >= headers[-1].end):
                headers.append(span)
        bodies = []
        for k, header in enumerate(headers):
            end = headers[k + 1].start if k + 1 < len(headers) else len(doc)
            start = header.end
            while start < end and doc[start].is_space:
                start += 1
            while end > start and doc[end - 1].is_space:
                end -= 1
            if end > start:
                bodies.append(Span(doc, start, end, label=header.label_))
        doc.spans[HEADERS_KEY] = headers
        doc.spans[SECTIONS_KEY] = bodies
        return doc
