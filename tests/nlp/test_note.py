"""The note intake: the checks every boundary makes, and the one JSONL reader."""

from __future__ import annotations

import json

import pytest

from medcode.errors import ErrorCode, MedcodeError
from nlp.note import JsonLimits, check_json_shape, check_note, decode_note, has_lone_surrogate, read_jsonl

LIMITS = JsonLimits(depth=8, keys=5)


@pytest.mark.parametrize(("text", "code"), [
    ("   \n", ErrorCode.EMPTY_NOTE), ("x" * 101, ErrorCode.NOTE_TOO_LARGE), ("fever \ud800", ErrorCode.NOTE_NOT_TEXT),
    ("\udc80 cough", ErrorCode.NOTE_NOT_TEXT), (b"bytes", ErrorCode.NOTE_NOT_TEXT), (None, ErrorCode.NOTE_NOT_TEXT),
])
def test_check_note_refuses(text, code):
    with pytest.raises(MedcodeError) as caught:
        check_note(text, limit=100)
    assert caught.value.code == code


def test_check_note_keeps_real_text_as_given():
    text = "Dolor torácico 😀 \u00a0 résumé"
    assert check_note(text, limit=100) is text
    assert decode_note("\ufeffok".encode()) == "ok"
    with pytest.raises(MedcodeError):
        decode_note(b"\xff\xfe")


def test_json_shape_bounds_depth_and_members_without_recursing():
    check_json_shape(b"[" * 8 + b"]" * 8, LIMITS)
    check_json_shape(json.dumps({"a": "[[[[[[[[[[{{{{{:::::" * 50}).encode(), LIMITS)  # structure in strings
    check_json_shape(json.dumps({"a": 'quote \\" [[[[[[[[[['}).encode(), LIMITS)
    for raw in (b"[" * 9, b"[" * 100_000, json.dumps({str(i): 1 for i in range(6)}).encode()):
        with pytest.raises(MedcodeError) as caught:
            check_json_shape(raw, LIMITS)
        assert caught.value.code == ErrorCode.BAD_INPUT
    check_json_shape(json.dumps([{"id": i} for i in range(50)]).encode(), LIMITS)  # members counted per object


def test_lone_surrogate_escapes_are_found_and_pairs_are_not():
    assert has_lone_surrogate(b'{"text": "fever \\ud800"}')
    assert has_lone_surrogate(b'{"text": "\\uDC00 x"}')
    assert not has_lone_surrogate(json.dumps({"text": "ok \U0001f600"}).encode())  # a pair, escaped
    assert not has_lone_surrogate(b'{"text": "a \\\\ud800"}')  # an escaped backslash, then letters


def test_read_jsonl_reports_each_bad_line_by_its_id_and_goes_on():
    lines = [
        json.dumps({"id": "ok", "text": "Hypertension."}).encode(),
        b"",
        b'{"id": "s", "text": "fever \\ud800"}',
        b"[" * 100_000,
        b'{"id": "u", "text": "bad \xff byte"}',
        b"{not json",
        json.dumps({"text": "no id"}).encode(),
        json.dumps({"id": 7, "text": 3}).encode(),
        json.dumps({"id": "e", "text": " "}).encode(),
        json.dumps({"id": True, "text": "x"}).encode(),
        json.dumps({"id": "x" * 201, "text": "x"}).encode(),
        json.dumps({"id": 8, "text": "Fever."}).encode(),
    ]
    items = list(read_jsonl(lines, limit=1000, json_limits=LIMITS))
    got = [(rid, text if isinstance(text, str) else text.code.value) for rid, text, _ in items]
    assert got == [("ok", "Hypertension."), ("s", "E003"), ("line 4", "E040"), ("u", "E003"), ("line 6", "E040"),
                   ("line 7", "E040"), ("7", "E040"), ("e", "E001"), ("line 10", "E040"), ("line 11", "E040"),
                   ("8", "Fever.")]
    assert all("\ud800" not in str(t) for _, t, _ in items)
