"""Sentence boundaries for clinical notes: every line break ends a sentence, and so does
sentence-final punctuation, except after clinical abbreviations ("Dr. Smith", "e.g. the",
"1.5 mg", "T.A: 109/68 mmHg")."""


import numpy
from spacy.attrs import SENT_START
from spacy.language import Language
from spacy.tokens import Doc

from nlp.rules import load_resource


@Language.factory(
    "medcode_sentences",
    default_config={"rules": "sentence_rules.json"},
    assigns=["token.is_sent_start"],
)
def make_sentences(nlp: Language, name: str, *, rules: str) -> "ClinicalSentences":
    return ClinicalSentences(rules=rules)


class ClinicalSentences:
    """Sets `token.is_sent_start` on every token; never touches the text."""

    def __init__(self, *, rules: str = "sentence_rules.json") -> None:
        data = load_resource(rules)
        self.final = frozenset(data["final"])
        self.closing = frozenset(data["closing"])
        self.no_split_after = frozenset(data["no_split_after"])

    def _ends_sentence(self, texts: list[str], i: int, nxt: str) -> bool:
        """Whether token i, followed on the same line by the word `nxt`, ends a sentence."""
        text = texts[i]
        if text in self.final:
            if nxt[:1].islower():
                return False
            if text == "." and i > 0:
                # "45 y.o. male" is tokenized as "y.o", "."
                return texts[i - 1].lower() not in self.no_split_after
            return True
        if len(text) > 2 and text[-1] == "." and text[-2].isalpha():
            # the tokenizer keeps "Dr." and "e.g." whole; most other "word." tokens end a sentence
            return nxt[:1].isupper() and text[:-1].lower() not in self.no_split_after
        return False

    def __call__(self, doc: Doc) -> Doc:
        n = len(doc)
        if n == 0:
            return doc
        texts = [token.text for token in doc]
        # whitespace tokens: True if they hold a line break
        space = [token.is_space for token in doc]
        newline = [sp and ("\n" in t or "\r" in t) for sp, t in zip(space, texts)]
        starts = [False] * n
        starts[0] = True
        line_break = False  # a line break seen: the next word starts a sentence
        after_final = False  # sentence-final punctuation seen: so does the next word, bar closers
        for i in range(n):
            if space[i]:
                line_break = line_break or newline[i]
                continue
            if line_break or (after_final and texts[i] not in self.closing):
                starts[i] = True
                line_break = after_final = False
            elif after_final:
                continue  # a closing quote or bracket stays with the sentence it closes
            if not (texts[i] in self.final or texts[i][-1] == "."):
                continue
            j = i + 1
            while j < n and space[j] and not newline[j]:
                j += 1
            if j < n and not space[j] and self._ends_sentence(texts, i, texts[j]):
                after_final = True
        # one array write: the per-token `is_sent_start` setter re-checks the whole doc each time
        doc.from_array([SENT_START], numpy.array([1 if s else -1 for s in starts], dtype="int64").astype("uint64").reshape(-1, 1))
        return doc
