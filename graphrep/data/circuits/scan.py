"""Numbers read from ASCII bytes in bulk, for the block readers: decimal values and ``*<index>`` integers of many
tokens at once, with numpy on the bytes (no Python object per token).

A token is given by its start and end in a byte buffer ``buf`` that the caller has padded with at least
:data:`PAD` white-space bytes (:func:`padded`), so that 16 bytes can be read at every token.

Digits are read eight at a time as one 64-bit word (SWAR, as simdjson's ``parse_eight_digits``): the word is shifted
so that its digits end at its top byte, checked to be ASCII digits, then folded by three multiplications
(pairs, quadruples, the eight).

:func:`decimals` reads the usual form of a number, ``[digits][.digits][(e|E)[+|-]digits]`` with at most 15 mantissa
digits and at most 3 exponent digits, and gives the same float as Python's ``float()``: the digits with the dot
taken out make an integer ``m < 10**15 < 2**53`` (exact in float64), and the value is ``m * 10**k`` or
``m / 10**-k`` for the decimal exponent ``k`` in ``[-22, 22]``: one correctly rounded operation on two exact
operands (Clinger's fast path). Anything else (a sign, ``inf``, ``nan``, more digits, a larger exponent, ``1_0``,
``a:b:c``) is flagged, for the caller to read those few tokens one by one.
"""

from __future__ import annotations

import numpy as np

#: white-space bytes :func:`padded` appends, so that 16 bytes can be read from any token
PAD = 32
_POW10 = 10.0 ** np.arange(23)
_U = np.uint64
_ZEROS = _U(0x3030303030303030)  # eight ASCII '0'
_HIGH = _U(0xF0F0F0F0F0F0F0F0)
_SIXES = _U(0x0606060606060606)


def padded(data: bytes) -> np.ndarray:
    """``data`` as uint8 followed by :data:`PAD` spaces."""
    buf = np.empty(len(data) + PAD, dtype=np.uint8)
    buf[:len(data)] = np.frombuffer(data, dtype=np.uint8)
    buf[len(data):] = 32
    return buf


def words(buf: np.ndarray, at: np.ndarray, count: int = 1) -> np.ndarray:
    """``[n, count]`` uint64: the little-endian 64-bit words ``buf[at[k] + 8 * j:at[k] + 8 * j + 8]`` (``count``
    1 or 2; gathered as one 8- or 16-byte item per row of a view with a stride of one byte)."""
    buf = np.ascontiguousarray(buf)
    width = 8 * count
    view = np.ndarray(shape=(len(buf) - width + 1,), dtype=f"V{width}", buffer=buf, strides=(1,))
    return view[at].view("<u8").reshape(len(at), count)


def _eight(word: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The integer written by the first ``count`` (0 to 8) bytes of each little-endian ``word`` [n] uint64, and
    whether they are all digits: the word is shifted up by the bytes it does not use, which become '0's."""
    shift = ((8 - count) * 8).astype(_U)
    word = (word << shift) | (_ZEROS & ~(~_U(0) << shift))  # a shift by 64 gives 0: count 0 reads '00000000'
    ok = ((word & _HIGH) == _ZEROS) & (((word + _SIXES) & _HIGH) == _ZEROS)
    word = ((word & _U(0x0F0F0F0F0F0F0F0F)) * _U(2561)) >> _U(8)
    word = ((word & _U(0x00FF00FF00FF00FF)) * _U(6553601)) >> _U(16)
    word = ((word & _U(0x0000FFFF0000FFFF)) * _U(42949672960001)) >> _U(32)
    return word, ok


def digits(buf: np.ndarray, at: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(value [n] uint64, ok [n])``: the integers written by ``buf[at[k]:at[k] + count[k]]`` (``count`` 0 to 16;
    0 reads 0), ``ok`` where those bytes are all digits."""
    if not len(at):
        return np.zeros(0, dtype=_U), np.ones(0, dtype=bool)
    wide = not (count <= 8).all()
    w = words(buf, at, 2 if wide else 1)
    first, ok = _eight(w[:, 0], np.minimum(count, 8))
    if not wide:
        return first, ok
    rest = np.clip(count - 8, 0, 8)
    second, ok2 = _eight(w[:, 1], rest)
    scale = (10 ** rest).astype(_U)
    return first * scale + second, ok & ok2


def indices(buf: np.ndarray, starts: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(keys [n] int64, ok [n])``: the integers of the ``*<digits>`` tokens at ``starts`` (``count`` digits each;
    ``ok`` is False for a token that is not ``*`` and 1 to 16 digits)."""
    value, ok = digits(buf, starts + 1, np.clip(count, 0, 16))
    ok &= (count >= 1) & (count <= 16) & (buf[starts] == 42) if len(starts) else ok
    return value.astype(np.int64), ok


def number_marks(buf: np.ndarray) -> np.ndarray:
    """The sorted positions of ``.``, ``e`` and ``E`` in ``buf``, then three positions past its end (what
    :func:`decimals` looks its tokens' marks up in)."""
    at = np.flatnonzero((buf == 46) | ((buf | 32) == 101))
    return np.concatenate([at, np.full(3, len(buf), dtype=at.dtype)])


_SEVENS = _U(0x7F7F7F7F7F7F7F7F)
_DOTS = _U(0x2E2E2E2E2E2E2E2E)  # eight '.'
_ES = _U(0x6565656565656565)  # eight 'e'
_CASE = _U(0x2020202020202020)
_LOW = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=_U)  # the first k bytes of a word
#: ``_LOWEST[m]``: the index of the lowest set bit of the 16-bit ``m`` (16 for 0)
_LOWEST = np.full(1 << 16, 16, dtype=np.int64)
for _b in range(15, -1, -1):
    _LOWEST[(np.arange(1 << 16) >> _b) & 1 == 1] = _b


def _zero_bytes(x: np.ndarray) -> np.ndarray:
    """The top bit of each byte of the words ``x`` that is 0, exactly (no borrow from one byte into the next)."""
    return ~(((x & _SEVENS) + _SEVENS) | x | _SEVENS)


def _byte_mask(top: np.ndarray) -> np.ndarray:
    """``[n]`` the 8-bit mask of the bytes of ``top`` [n] uint64 whose top bit is set (bit ``k``: byte ``k``), by one
    multiplication that gathers the eight top bits into the highest byte."""
    return (((top >> _U(7)) & _U(0x0101010101010101)) * _U(0x0102040810204080)) >> _U(56)


def _in_token(top: np.ndarray, length: np.ndarray) -> np.ndarray:
    """``[n]`` int64: the 16-bit mask of the flagged bytes (top bit set in ``top`` [n, 2], a token's two words) among
    the first ``length`` [n] of each token's 16."""
    top[:, 0] &= _LOW[np.clip(length, 0, 8)]
    top[:, 1] &= _LOW[np.clip(length - 8, 0, 8)]
    return (_byte_mask(top[:, 0]) | (_byte_mask(top[:, 1]) << _U(8))).astype(np.int64)


def byte_hits(w: np.ndarray, length: np.ndarray, byte: int) -> np.ndarray:
    """``[n]`` the 16-bit masks of where ``byte`` is among the first ``length`` [n] (at most 16) bytes of tokens
    whose two words are ``w`` [n, 2] (:func:`words`): bit ``k`` for byte ``k``; :func:`lowest` reads them."""
    return _in_token(_zero_bytes(w ^ _U(byte * 0x0101010101010101)), length)


def lowest(m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(first [n], second [n], third [n] bool)``: the lowest two set bits of the 16-bit masks ``m`` (16 where
    there are fewer) and whether ``m`` has a third."""
    rest = m & (m - 1)
    return _LOWEST[m], _LOWEST[rest], (rest & (rest - 1)) != 0


def token_marks(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(first [n], second [n], third [n] bool)`` for tokens of at most 16 bytes: where the first and second ``.``,
    ``e`` or ``E`` of each token are (``starts + 16`` where there is none) and whether it has a third: found in its
    two words (each byte compared by a borrow-free zero test, the hits made a 16-bit mask, its lowest bits looked up)
    instead of a search among every mark of the buffer."""
    return _token_marks(words(buf, starts, 2), starts, ends)


def _token_marks(w: np.ndarray, starts: np.ndarray, ends: np.ndarray):
    """:func:`token_marks` of the tokens whose two words are ``w`` [n, 2] (not changed)."""
    first, second, third = lowest(_in_token(_zero_bytes(w ^ _DOTS) | _zero_bytes((w | _CASE) ^ _ES), ends - starts))
    return starts + first, starts + second, third


def decimals(buf: np.ndarray, starts: np.ndarray, ends: np.ndarray,
             marks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(value [n] float64, ok [n])`` of the tokens ``buf[starts:ends]``; where ``ok`` the value equals
    ``float(token)``, elsewhere it is 0 and the token is not of the form read here (see the module's docstring).
    A token's marks (its ``.`` and exponent letter) are found in its own bytes (:func:`token_marks`) when it has at
    most 16; a longer one's among the ``marks`` of the buffer (:func:`number_marks` of ``buf``, made when needed and
    not given)."""
    if not len(starts):
        return np.zeros(0), np.zeros(0, dtype=bool)
    w = words(buf, starts, 2)
    m1, m2, third = _token_marks(w, starts, ends)
    long = np.flatnonzero(ends - starts > 16)
    if len(long):  # a token's marks: at most a dot, then an exponent mark
        if marks is None:
            marks = number_marks(buf)
        j = np.searchsorted(marks, starts[long])
        m1[long], m2[long], third[long] = marks[j], marks[j + 1], marks[j + 2] < ends[long]
    in1, in2 = m1 < ends, m2 < ends
    dot1 = in1 & (buf[np.minimum(m1, len(buf) - 1)] == 46)
    e2 = in2 & (buf[np.minimum(m2, len(buf) - 1)] != 46)
    q = np.where(in1 & ~dot1, m1, np.where(dot1 & in2, m2, ends))  # the exponent mark, or the end
    p = np.where(dot1, m1, q)  # the dot, or the mark
    whole = p - starts
    frac = np.where(dot1, q - p - 1, 0)
    ok = ~third & ~(in2 & ~(dot1 & e2))  # no third mark; a second only as dot then exponent
    ok &= (whole + frac >= 1) & (whole <= 16) & (frac <= 16) & (whole + frac <= 15)
    # the mantissa's digits: the token's first 16 bytes (all of them when ok) with the dot taken out, that is the
    # bytes from the dot on moved down by one in the 128 bits of its two words
    at = np.where(dot1, whole, 16)
    cut0, cut1 = _LOW[np.clip(at, 0, 8)], _LOW[np.clip(at - 8, 0, 8)]
    w0, w1 = w[:, 0], w[:, 1]
    low = (w0 & cut0) | (((w0 >> _U(8)) | (w1 << _U(56))) & ~cut0)
    high = (w1 & cut1) | ((w1 >> _U(8)) & ~cut1)
    count = np.clip(whole + frac, 0, 16)
    a, ok_a = _eight(low, np.minimum(count, 8))
    rest = np.clip(count - 8, 0, 8)
    b, ok_b = _eight(high, rest)
    ok &= ok_a & ok_b
    mantissa = (a * (10 ** rest).astype(_U) + b).astype(np.float64)  # below 10**15 where ok: exact
    k = -frac
    has_e = q < ends
    if has_e.any():
        at = np.flatnonzero(has_e)
        s = q[at] + 1
        sign = buf[s]
        signed = (sign == 43) | (sign == 45)
        count = ends[at] - s - signed
        x, fine = digits(buf, s + signed, np.clip(count, 0, 3))
        ok[at] &= fine & (count >= 1) & (count <= 3)
        x = x.astype(np.int64)
        k[at] += np.where(sign == 45, -x, x)
    ok &= (k >= -22) & (k <= 22)
    kk = np.clip(k, -22, 22)
    value = np.where(kk >= 0, mantissa * _POW10[np.maximum(kk, 0)], mantissa / _POW10[np.maximum(-kk, 0)])
    return np.where(ok, value, 0.0), ok
