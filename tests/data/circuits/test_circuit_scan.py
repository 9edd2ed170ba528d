"""Bulk number reading from bytes (:mod:`graphrep.data.circuits.scan`) against Python's ``float``/``int`` token by
token, and the name map's vectorised unescape against :func:`.unescape`."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from graphrep.data.circuits import scan
from graphrep.data.circuits.names import unescape
from graphrep.data.circuits.spef import _escapes, _spans

_EDGE = ["0", "32.1327", "1.", "5", ".5", "1e5", "1E-3", "1e+2", "2.36259e-05", "0.000161493", "1.5e-10", "1e-22",
         "1e22", "123456789012345", "0.1e1", "1.e5", "1e-0", "1E5", "000000000000001", "9.99999e-13", "450359962737049",
         # refused (read one by one by the caller): every one of these either is no float or needs more than the
         # fast path's exact operands
         "1.0:2.0:3.0", "inf", "nan", "-1", "+1", "1e", "e5", ".", "1..2", "1e400", "123456789012345678", "1_0",
         "0.000000000000000000001234", "1e23", "9007199254740993", "1234567890123456", "1e+", "1e-", "e", "E5", "..",
         "1.2.3", "1e5e5", "1e1.5", "1e0001", "5e-324", "1.7976931348623157e308", "0x10", "1,5", "1e+-5"]


def _tokens(tokens):
    text = (" ".join(tokens) + "\n").encode("ascii")
    buf = scan.padded(text)
    starts, ends = _spans(buf)
    return buf, starts, ends


def _check(tokens):
    buf, starts, ends = _tokens(tokens)
    value, ok = scan.decimals(buf, starts, ends)
    for t, v, good in zip(tokens, value.tolist(), ok.tolist()):
        if good:
            assert v == float(t), t  # the fast path is correctly rounded: Python's float, bit for bit
    return ok


def test_decimals_edge_cases():
    ok = _check(_EDGE)
    first_refused = _EDGE.index("1.0:2.0:3.0")
    assert ok[:first_refused].all() and not ok[first_refused:].any()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False), min_size=1, max_size=40),
       st.sampled_from(["%r", "%.6g", "%.5e", "%.9f", "%.3E", "%.15g"]))
def test_decimals_equal_float(values, fmt):
    tokens = [fmt % v if fmt != "%r" else repr(v) for v in values]
    ok = _check(tokens)
    if fmt in ("%.6g", "%.5e", "%.3E"):  # at most 7 significant digits: all on the fast path unless out of range
        assert ok[[v == 0 or 1e-15 < v for v in values]].all()


@pytest.mark.parametrize("keys", [[1, 22, 333, 4444, 123456789, 9999999999999999, 1234567890123456], list(range(1, 300))])
def test_indices(keys):
    buf, starts, ends = _tokens([f"*{k}" for k in keys] + ["*", "*1a", "7", "*12345678901234567"])
    value, ok = scan.indices(buf, starts, ends - starts - 1)
    assert value[:len(keys)].tolist() == keys and ok[:len(keys)].all() and not ok[len(keys):].any()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="ab\\[]._", min_size=1, max_size=12), min_size=1, max_size=20))
def test_escapes_drop_what_unescape_drops(names):
    text = (" ".join(names) + "\n").encode("ascii")
    buf = scan.padded(text)
    drop = _escapes(buf)
    keep = np.ones(len(buf), dtype=bool)
    keep[drop] = False
    assert buf[keep][:len(text) - len(drop)].tobytes().decode("ascii").split() == [unescape(n) for n in names]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab1*:. \n\t\r\x0b\x0c\x1c\x1f\x01\x08\x0e", max_size=60))
def test_spans_cut_as_str_split(text):
    """Token edges with and without the newline count (the ``buf <= 32`` path where newlines are the only control
    bytes, the table otherwise) are where ``str.split()`` cuts."""
    buf = scan.padded(text.encode("ascii"))
    want = text.split()
    for newlines in (None, text.count("\n")):
        starts, ends = _spans(buf, newlines)
        assert [buf[s:e].tobytes().decode("ascii") for s, e in zip(starts, ends)] == want


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet="a*:1\x7f\x01~", min_size=1, max_size=40), min_size=1, max_size=30),
       st.lists(st.integers(0, 29), max_size=30))
def test_factorize_spans_numbers_equal_strings_alike(words, repeats):
    """Spans numbered on their bytes (16-byte columns as complex128) get the codes that numbering the strings gives:
    prefixes, strings equal up to 16 or 32 bytes, bytes 0x7f (an exponent's top bits) and 0x01 included."""
    import pandas as pd

    from graphrep.data.circuits.spef import _factorize_spans

    tokens = words + [words[r % len(words)] for r in repeats] + [w + "x" for w in words]
    buf = scan.padded((" ".join(tokens) + "\n").encode("ascii"))
    starts, ends = _spans(buf)
    codes, first = _factorize_spans(buf, starts, ends)
    want, _ = pd.factorize(np.array(tokens, dtype=object))
    assert codes.tolist() == want.tolist()
    assert first.tolist() == [tokens.index(t) for t in pd.unique(np.array(tokens, dtype=object))]



@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.eE+-x", min_size=1, max_size=16), min_size=1, max_size=30))
def test_token_marks_find_the_dots_and_exponent_letters(tokens):
    buf, starts, ends = _tokens(tokens)
    first, second, third = scan.token_marks(buf, starts, ends)
    for t, s, a, b, c in zip(tokens, starts.tolist(), first.tolist(), second.tolist(), third.tolist()):
        at = [k for k, ch in enumerate(t) if ch in ".eE"] + [16, 16]
        assert (a - s, b - s, c) == (at[0], at[1], len(at) > 4), t


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="0123456789.eE+-", min_size=1, max_size=24), min_size=1, max_size=30))
def test_decimals_of_any_short_or_long_token_equal_float(tokens):
    """Tokens up to 16 characters have their marks found in their own bytes, longer ones among the buffer's: either
    way a value read is ``float``'s, and a plain decimal of up to 15 digits is read."""
    ok = _check(tokens)
    for t, good in zip(tokens, ok.tolist()):
        if t.count(".") <= 1 and t.replace(".", "").isdigit() and len(t.replace(".", "")) <= 15:
            assert good, t


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=":\\\\ab1*", min_size=1, max_size=16), min_size=1, max_size=30),
       st.sampled_from([":", "\\", "a"]))
def test_byte_hits_find_a_byte_in_tokens(tokens, byte):
    buf, starts, ends = _tokens(tokens)
    first, second, third = scan.lowest(scan.byte_hits(scan.words(buf, starts, 2), ends - starts, ord(byte)))
    for t, a, b, c in zip(tokens, first.tolist(), second.tolist(), third.tolist()):
        at = [k for k, ch in enumerate(t) if ch == byte] + [16, 16]
        assert (a, b, c) == (at[0], at[1], len(at) > 4), t
