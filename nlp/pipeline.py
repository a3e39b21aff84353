"""The medcode spaCy pipeline: a blank English pipeline with scispaCy's tokenizer and our components.

The note's text is never cleaned: every span's offsets index the original string
(`note[span.start_char:span.end_char] == span.text`), CRLF, tabs and all.
"""

import warnings
from typing import Any

import spacy
from scispacy.custom_tokenizer import combined_rule_tokenizer
from spacy.language import Language

# importing the modules registers their factories
import nlp.abbreviations  # noqa: F401
import nlp.context  # noqa: F401
import nlp.sections  # noqa: F401
import nlp.sentences  # noqa: F401

PIPELINE: tuple[str, ...] = (
    "medcode_sentences",
    "medcode_sections",
    "medcode_abbreviations",
    "medcode_mentions",
    "medcode_context",
)


def build_pipeline(*, mentions_config: dict[str, Any] | None = None, include_mentions: bool = True) -> Language:
    """A fresh pipeline with the components of `PIPELINE` in order.

    mentions_config: settings for `medcode_mentions` (its factory's defaults otherwise).
    include_mentions: False leaves `medcode_mentions` out (and does not import `nlp.mentions`);
        True also has `medcode_context` assert its "clauses" group besides "mentions".
    """
    pipeline = spacy.blank("en")
    with warnings.catch_warnings():
        # scispaCy's infix pattern trips a FutureWarning of `re` ("Possible set union"); harmless.
        warnings.filterwarnings("ignore", category=FutureWarning, message="Possible set union")
        pipeline.tokenizer = combined_rule_tokenizer(pipeline)
    context_config: dict[str, Any] = {}
    for name in PIPELINE:
        if name == "medcode_mentions":
            if not include_mentions:
                continue
            from nlp.mentions import CLAUSE_GROUP, SPAN_GROUP  # registers the factory

            pipeline.add_pipe(name, config=dict(mentions_config or {}))
            # the clauses the dense channel queries with need an assertion too
            context_config["span_groups"] = [SPAN_GROUP, CLAUSE_GROUP]
        elif name == "medcode_context":
            pipeline.add_pipe(name, config=context_config)
        else:
            pipeline.add_pipe(name)
    return pipeline
