"""The SPEF block reader (whole arrays per block of nets) against the line-by-line reader it falls back to: the same
nets, connections, capacitors, resistors, coupling pairs and skips on every shared design and on hand-made variants,
and the line reader's ``file:line`` errors on malformed input."""

import re

import numpy as np

import pytest

from graphrep.data.circuits import spef as spef_module
from graphrep.data.circuits.source import CircuitFormatError
from graphrep.data.circuits.spef import read_spef

from test_circuit_parsers import SPEF, _write

_SHARED = ["gcd_sky130hd/gcd_sky130hd.spef", "gcd_nangate45/45_gcd.spef", "gcd_sky130hs/gcd.spef",
           "i2c_sg13g2/i2c.spef", "mockarray_asap7/Element.spef.gz", "mockarray_asap7/MockArray.spef.gz",
           "pdp8_sky130hd/moonbase_pdp8.spef.gz", "serial_ports_gf180/serial_ports.spef.gz",
           "flash_sky130hd/Flash.spef.gz", "ay8913_sg13g2/tt_um_rejunity_ay8913.spef.gz",
           "credit_pi_switch_asap7/6_final.spef.gz", "silice_sg13g2/tt_um_silice.spef.gz",
           "timers_gf180/timers.spef.gz", "experiar_wrapper_sky130hd/user_project_wrapper.spef.gz",
           "tt03_wrapper_sky130hd/user_project_wrapper.spef.gz", "user_proj_gf180/user_proj_example.spef",
           "video_sky130hd/Video.spef.gz"]


def _close(a, b):
    """Equal names and nodes, values within 1e-12 relative: the block reader reads numbers with its own routine
    (:func:`.scan.decimals`), the line reader with ``float``."""
    if isinstance(a, dict):
        return list(a) == list(b) and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, float):
        return a == pytest.approx(b, rel=1e-12, abs=0)
    return a == b


def _same_arrays(a, b):
    """The parasitics as arrays, entry by entry in file order: net, node names, value (1e-12 relative)."""
    pa, pb = a.parasitics, b.parasitics
    for kind in pa.KINDS:
        x, y = pa.arrays[kind], pb.arrays[kind]
        assert x["net"].tolist() == y["net"].tolist(), kind
        for end in ("a", "b"):
            assert [pa.nodes[i] for i in x[end].tolist()] == [pb.nodes[i] for i in y[end].tolist()], kind
        assert x["value"] == pytest.approx(y["value"], rel=1e-12, abs=0), kind
    assert pa.ground_sum == pytest.approx(pb.ground_sum, rel=1e-12, abs=0)


def _same(a, b):
    assert list(a.nets) == list(b.nets)
    for name, na in a.nets.items():
        nb = b.nets[name]
        assert (na.line, na.conns) == (nb.line, nb.conns), name
        assert _close([na.total_cap, na.ground, na.coupling, na.resistors],
                      [nb.total_cap, nb.ground, nb.coupling, nb.resistors]), name
        assert na.ground_cap == pytest.approx(sum(na.ground.values()), rel=1e-12, abs=0)
    _same_arrays(a, b)
    assert (a.ports, a.design, a.pin_nets()) == (b.ports, b.design, b.pin_nets())
    assert (a.c_unit, a.r_unit) == pytest.approx((b.c_unit, b.r_unit), rel=1e-12)
    pa, pb = a.coupling_pairs(), b.coupling_pairs()
    assert list(pa) == list(pb) and pa == pytest.approx(pb, rel=1e-12)
    assert dict(a.skipped) == dict(b.skipped)
    assert {k: list(v) for k, v in a.skipped_names.items()} == {k: list(v) for k, v in b.skipped_names.items()}


def _pairs_by_loop(spef):
    """The coupling sum written out per entry, as the reader did before it kept arrays (a slow exact reference)."""
    sides = {}
    for net in spef.nets.values():
        for a, b, c in net.coupling:
            na, nb = spef.node_net(a), spef.node_net(b)
            if na is None or nb is None:
                continue
            if na != net.name:
                na, nb = nb, na
            if na == nb:
                continue
            key = (na, nb) if na < nb else (nb, na)
            sides.setdefault(key, [0.0, 0.0])[0 if na == key[0] else 1] += c
    return {k: (s[0] + s[1]) / 2 if s[0] and s[1] else s[0] + s[1] for k, s in sides.items()}


@pytest.mark.parametrize("name", _SHARED)
def test_block_reader_equals_line_reader_on_shared_designs(shared_data, name):
    path = shared_data / "circuits" / name
    fast = spef_module._read_blocks(path)  # raises _Unexpected if it had to hand over: these files must not
    _same(fast, spef_module._read_lines(path))
    assert fast.coupling_pairs() == pytest.approx(_pairs_by_loop(fast), rel=1e-12)


@pytest.mark.parametrize("edit", [
    lambda t: t,
    lambda t: t.replace("3 *3:A *4:Y 2.0", "3 *3:A *4:Y 1.0:2.0:3.0"),  # triplet keeps the typical value
    lambda t: t.replace("*CAP\n1 *1:1 1.0", "*CAP\n1 *1:1 1.0 // a comment"),  # comments: line reader
    lambda t: t.replace("*CONN\n*I *4:Y", "*CONN\n*I *4:Y O *C 1.0 2.0 *D BUF_X1\n*I *4:Z"),  # *C coordinates
    lambda t: t.replace("*RES\n1 in0 *1:1 0.2\n", ""),  # a net without resistors
    lambda t: t.rstrip("\n"),  # no final newline
    lambda t: t.replace("\n", "\r\n"),  # Windows line ends: line reader
])
def test_block_reader_and_fallback_agree_with_line_reader(tmp_path, edit):
    path = _write(tmp_path, "t.spef", edit(SPEF))
    _same(read_spef(path), spef_module._read_lines(path))


_NAME_MAP_EDITS = [
    lambda t: t.replace("*4 u2", "*4000000 u2").replace("*4:", "*4000000:"),  # sparse indices: the sorted lookup
    lambda t: t.replace("*4 u2", "*4 u2\n*2 n2b"),  # a repeated index keeps its last name
    lambda t: t.replace("*2 n2", "*2\tn2  ").replace("*3 u1", "  *3 u1"),  # other white space in the name map
    lambda t: t.replace("*1 a\\.b\\[0\\]", "*1 a\\\\b\\"),  # an escaped backslash, a backslash at the end
    lambda t: t.replace("*P in0 I", "*P in0 I\n").replace("\n\n*D_NET *2", "\n  \n\n*D_NET *2"),  # blank lines
    # keyword lines that end the map: right after a name, between two maps, a keyword then its own text
    lambda t: t.replace("*3 u1\n", "*3 u1\n*GROUND_NETS\n*NAME_MAP\n").replace("*4 u2\n\n", "*4 u2\n*POWER_NETS\n"),
    lambda t: t.replace("*4 u2\n\n*PORTS\nin0 I\n\n", "*4 u2\n"),  # the map runs to the first net
]


@pytest.mark.parametrize("edit", _NAME_MAP_EDITS)
@pytest.mark.parametrize("threads", [1, 3])
def test_block_reader_reads_name_map_variants(tmp_path, edit, monkeypatch, threads):
    """Name maps off the usual layout stay in the block reader (no hand-over) and read as the line reader reads
    them, in one piece and in pieces of a few lines (on three threads: runs scanned past the map's end dropped)."""
    path = _write(tmp_path, "t.spef", edit(SPEF))
    for chars in (1 << 22, 24):
        monkeypatch.setattr(spef_module, "_BLOCK_CHARS", chars)
        _same(spef_module._read_blocks(path, threads=threads), spef_module._read_lines(path))


def test_triplet_and_small_pieces(tmp_path, monkeypatch):
    path = _write(tmp_path, "t.spef", SPEF.replace("3 *3:A *4:Y 2.0", "3 *3:A *4:Y 1.0:2.0:3.0"))
    assert spef_module._read_blocks(path).coupling_pairs() == {("a.b[0]", "n2"): pytest.approx(2e-15)}
    monkeypatch.setattr(spef_module, "_BLOCK_CHARS", 16)  # pieces cut inside the name map and between nets
    _same(spef_module._read_blocks(path), spef_module._read_lines(path))


@pytest.mark.parametrize("bad, message", [
    ("1 *1:1 -1.0", "capacitance must be >= 0"),
    ("1 *1:1 inf", "must be a finite number"),
    ("1 *1:1 1e400", "must be a finite number"),
    ("1 *1:1", "a *CAP line is"),
    ("1 *7:1 1.0", "name-map index *7"),
])
def test_errors_name_the_line(tmp_path, bad, message):
    lines = SPEF.splitlines()
    line = lines.index("1 *1:1 1.0") + 1
    lines[line - 1] = bad
    path = _write(tmp_path, "bad.spef", "\n".join(lines) + "\n")
    with pytest.raises(CircuitFormatError, match=re.escape(message)) as exc:
        read_spef(path)
    assert str(exc.value).startswith(f"{path}:{line}: ")


def test_truncated_gzip_names_the_line(tmp_path):
    import gzip

    packed = gzip.compress(SPEF.encode())
    path = tmp_path / "cut.spef.gz"
    path.write_bytes(packed[:len(packed) // 2])
    with pytest.raises(CircuitFormatError, match="truncated or corrupt") as exc:
        read_spef(path)
    assert exc.value.line is not None and exc.value.line > 1


_NET3 = """
*D_NET n3 1.0
*CONN
*I u9:Z O *D BUF_X1
*I *4:Z\\[1\\] I
*I *3:A:B I *C 1.0 2.0 *D INV_X2
*I *4:Q B *D
*CAP
1 u9:Z 0.25
2 in0 0.125
3 u9:Z *3:A 0.5
4 *4:Z\\[1\\] in0 0.75
*RES
1 u9:Z *3:A:B 3.0
*END
"""


@pytest.mark.parametrize("edit", [
    lambda t: t + _NET3,  # unmapped and escaped nodes, a pin with the delimiter, ports on capacitors, *D last
    lambda t: t.replace("*D_NET *2 2.5", "\n\n*D_NET *2 2.5").replace("*CAP\n1 *4:Y", "\n*CAP\n\n1 *4:Y"),
    lambda t: t.replace("*I *3:A I *D INV_X1", "*I *3:A I *L 0.1 *D INV_X1"),
    # tokens of more than 16 characters (their delimiters and backslashes looked up in the whole buffer's)
    lambda t: t + _NET3.replace("u9:Z", "a_long_instance_name_u9:Z").replace("*4:Z\\[1\\]", "*4:Zlong\\[1\\]:x\\[2\\]")
                       .replace("in0", "a_port_longer_than_16"),
    # an indexed pin of more than 8 bytes: not kept by index (NameMapKeys), so every pin is looked up by name
    lambda t: t.replace("*3:A", "*3:A_pin_longer_than_16"),
    # a pin listed under two nets: the later *CONN entry says where its nodes are (both capacitors within n2)
    lambda t: t.replace("*I *4:Y O *D BUF_X1", "*I *4:Y O *D BUF_X1\n*I *3:A I"),
])
def test_block_reader_reads_the_unusual_nodes_as_the_line_reader(tmp_path, edit, monkeypatch):
    """Tokens off the usual ``*<index>:<pin>`` path (and blank lines) stay in the block reader and read alike."""
    path = _write(tmp_path, "t.spef", edit(SPEF))
    for chars in (1 << 24, 64):  # one block, and blocks of a net or two (a node met in several blocks)
        monkeypatch.setattr(spef_module, "_BLOCK_CHARS", chars)
        fast = spef_module._read_blocks(path)
        _same(fast, spef_module._read_lines(path))
        assert fast.coupling_pairs() == pytest.approx(_pairs_by_loop(fast), rel=1e-12)


def test_unusual_nodes_hand_checked(tmp_path):
    spef = spef_module._read_blocks(_write(tmp_path, "t.spef", SPEF + _NET3))
    net = spef.nets["n3"]
    assert [(c.kind, c.instance, c.pin, c.direction, c.cell) for c in net.conns] == [
        ("I", "u9", "Z", "O", "BUF_X1"), ("I", "u2", "Z[1]", "I", None), ("I", "u1:A", "B", "I", "INV_X2"),
        ("I", "u2", "Q", "B", None)]
    assert net.ground == {"u9:Z": pytest.approx(0.25e-15), "in0": pytest.approx(0.125e-15)}
    assert net.resistors == [("u9:Z", "u1:A:B", pytest.approx(3000.0))]
    assert spef.node_net("u2:Z[1]") == "n3" and spef.node_net("in0") == "a.b[0]"
    # u9:Z (n3) - u1:A (a.b[0]) 0.5 fF; u2:Z[1] (n3) - in0 (a.b[0]) 0.75 fF; the 2 fF pair of a.b[0] and n2 as before
    assert spef.coupling_pairs() == {("a.b[0]", "n2"): pytest.approx(2e-15), ("a.b[0]", "n3"): pytest.approx(1.25e-15)}


def test_rpartition_on_bytes_cuts_as_str_rpartition():
    """The byte-level cut of node names at their last delimiter (coupling pairs) against ``str.rpartition``: empty
    heads and tails, several delimiters, non-ASCII names, a name with a newline and multi-character delimiters (the
    last two cut one by one)."""
    names = ["n1:7", "inst:A", "port", ":x", "x:", "a:b:c", "", "é:ü", "u/v:Z[1]", "::", "a\nb:c"]
    for sample in (names, names[:-1], ["a"], []):
        for delimiter in (":", "/", "::", "é"):
            sep, head, tail = spef_module._rpartition(spef_module._objects(sample), delimiter)
            want = [n.rpartition(delimiter) for n in sample]
            assert sep.tolist() == [bool(w[1]) for w in want]
            assert head.tolist() == [w[0] for w in want] and tail.tolist() == [w[2] for w in want]


def test_coupling_with_no_node_in_any_conn_is_skipped(tmp_path):
    """A coupling capacitor whose two nodes no ``*CONN`` entry names (here net 2 was cut off the file, as a SPEF cut
    at a ``*D_NET`` boundary is) is skipped and counted, as the per-node reference does; it was an IndexError when no
    node at all matched an entry."""
    text = SPEF[:SPEF.index("*D_NET *2")].replace("3 *3:A *4:Y 2.0", "3 *4:Y *4:Q 2.0")
    for read in (spef_module._read_blocks, spef_module._read_lines):
        spef = read(_write(tmp_path, "cut.spef", text))
        assert spef.coupling_pairs() == _pairs_by_loop(spef) == {}
        assert spef.skipped["coupling node not on any net"] == 1


@pytest.mark.parametrize("chars", [16, 40, 1 << 22])
@pytest.mark.parametrize("tail", ["", "\n", "\n\n"])
@pytest.mark.parametrize("ring", [1, 3])
def test_pieces_rebuild_the_file(tmp_path, monkeypatch, chars, tail, ring):
    """The pieces (a ring of reused buffers) put together are the file (a final newline added where missing); each
    ends at a line end followed by spaces and starts a *D_NET line once the header is passed, also where a net is
    longer than a piece; the ``ring - 1`` pieces before the one just given are still intact in their buffers."""
    text = SPEF.rstrip("\n") + tail + _NET3 * 3
    text = text.rstrip("\n") + tail
    path = _write(tmp_path, "t.spef", text)
    monkeypatch.setattr(spef_module, "_BLOCK_CHARS", chars)
    got, recent = [], []
    with open(path, "rb") as fh:
        for store, n in spef_module._pieces(fh, ring=ring):
            piece = bytes(store[:n])
            assert piece.endswith(b"\n") and bytes(store[n:n + spef_module.scan.PAD]) == b" " * spef_module.scan.PAD
            if got and b"*D_NET" in b"".join(got):
                assert piece.startswith(b"*D_NET") or not piece.strip()
            recent = (recent + [(store, n, piece)])[-ring:]
            assert all(bytes(s[:k]) == p for s, k, p in recent)
            got.append(piece)
    assert b"".join(got).decode() == (text if text.endswith("\n") else text + "\n")


def _exactly_same(a, b):
    """The same computation on the same bytes: every name, line, value and id identical (no tolerance)."""
    assert [(k, n.line, n.total_cap, n.index) for k, n in a.nets.items()] == \
        [(k, n.line, n.total_cap, n.index) for k, n in b.nets.items()]
    ca, cb = a.connections, b.connections
    assert ca.ptr.tolist() == cb.ptr.tolist()
    assert all(getattr(ca, c).tolist() == getattr(cb, c).tolist() for c in ca.COLUMNS)
    pa, pb = a.parasitics, b.parasitics
    assert pa.nodes == pb.nodes
    for kind in pa.KINDS:
        for col in ("net", "a", "b", "value"):
            assert np.array_equal(pa.arrays[kind][col], pb.arrays[kind][col]), (kind, col)
    assert a.ports == b.ports


@pytest.mark.parametrize("name", ["gcd_sky130hd/gcd_sky130hd.spef", "video_sky130hd/Video.spef.gz",
                                  "mockarray_asap7/MockArray.spef.gz"])
def test_threads_give_the_serial_result(shared_data, monkeypatch, name):
    """Blocks scanned on several threads and added in order give what one thread gives, bit for bit, also in
    pieces of a few nets each (many blocks in flight at once; a plain file's mapped header and a gzip file's)."""
    path = shared_data / "circuits" / name
    for chars in (1 << 22, 2048):  # (node ids are per block: compared at one block size)
        monkeypatch.setattr(spef_module, "_BLOCK_CHARS", chars)
        serial = spef_module._read_blocks(path, threads=1)
        for threads in (2, 3):
            _exactly_same(spef_module._read_blocks(path, threads=threads), serial)


def test_a_bad_block_among_threads_goes_to_the_line_reader(tmp_path, monkeypatch):
    """A malformed line in a later block, read on threads, makes the block reader hand over; the line reader names
    its line, as with one thread."""
    text = SPEF + "".join(_NET3.replace("*D_NET n3", f"*D_NET net{k}") for k in range(40))
    lines = text.splitlines()
    bad = max(i for i, line in enumerate(lines) if line.startswith("*D_NET net3")) + 1  # its *CONN line
    lines.insert(bad + 1, "*I *4:Y X")  # direction X
    path = _write(tmp_path, "t.spef", "\n".join(lines) + "\n")
    monkeypatch.setattr(spef_module, "_BLOCK_CHARS", 200)
    for threads in (1, 3):
        with pytest.raises(spef_module._Unexpected):
            spef_module._read_blocks(path, threads=threads)
        with pytest.raises(CircuitFormatError, match=rf"t\.spef:{bad + 2}:.*direction must be I, O or B"):
            read_spef(path, threads=threads)


@pytest.mark.parametrize("bad", [0, -1, 2.0, True])
def test_threads_must_be_a_positive_integer(tmp_path, bad):
    with pytest.raises(ValueError, match="threads must be an integer"):
        read_spef(_write(tmp_path, "t.spef", SPEF), threads=bad)


@pytest.mark.parametrize("keys", [list(range(1, 40)), list(range(0, 40)), list(range(7, 40)),
                                  list(range(1, 30)) + [35, 36], list(range(1, 30)) + [12, 30], list(range(40, 0, -1)),
                                  [3, 1, 2] + list(range(4, 40)), [5], [1, 2, 5, 6, 7, 9] + list(range(12, 40)),
                                  [2, 4, 6, 8], list(range(1, 30)) + [3000], [1, 2, 3, 3, 4]])
@pytest.mark.parametrize("chars", [24, 1 << 22])
@pytest.mark.parametrize("long", [False, True])
@pytest.mark.parametrize("workers", [1, 3])
def test_name_map_lookup_equals_a_dict(monkeypatch, keys, chars, long, workers):
    """The name map in run mode (increasing indices, some skipped: start and length tables only) and after the run
    ends (a repeat, any order, an index beyond the tables; in runs of a few lines) finds what a dict of its lines
    finds (a repeat keeps the last)."""
    pad = lambda j: "x" * (300 if long and j == len(keys) // 2 else 0)  # noqa: E731 - a name over 255 midway
    text = "".join(f"*{k} name{k}_{j}{pad(j)}\n" for j, k in enumerate(keys)).encode("ascii")
    buf = np.frombuffer(bytearray(text + b" " * spef_module.scan.PAD), dtype=np.uint8)
    monkeypatch.setattr(spef_module, "_BLOCK_CHARS", chars)
    table = spef_module._NameMap(capacity=len(keys) + 1)
    assert table.add_lines(buf, 0, len(text), workers) == len(text)
    table.finish()
    want = {f"*{k}": f"name{k}_{j}{pad(j)}" for j, k in enumerate(keys)}
    asked = [f"*{k}" for k in range(45)]
    assert table.lookup(asked) == [want.get(a) for a in asked]
    increasing = all(a < b for a, b in zip(keys, keys[1:])) and keys[-1] - keys[0] < 2 * (len(keys) + 1) + 1024
    assert (table.first is not None) == increasing


@pytest.mark.parametrize("workers", [1, 3])
def test_name_map_leaves_what_follows_it_untouched(monkeypatch, workers):
    """Runs scanned past the keyword line that ends the map (on threads, ahead of the one that finds it) are not
    name-map lines: neither their errors nor an escape rewrite reach the caller or the bytes after the map."""
    names = [f"a\\[{k}\\]" for k in range(1, 30)]  # escaped names, rewritten in place
    head = "".join(f"*{k} {n}\n" for k, n in enumerate(names, 1))
    rest = "*PORTS\n" + "".join(f"p\\[{k}\\] I\n" for k in range(40))  # escapes, and lines that are no map lines
    text = (head + rest).encode("ascii")
    buf = np.frombuffer(bytearray(text + b" " * spef_module.scan.PAD), dtype=np.uint8)
    monkeypatch.setattr(spef_module, "_BLOCK_CHARS", 24)
    table = spef_module._NameMap(capacity=40)
    assert table.add_lines(buf, 0, len(text), workers) == len(head)
    assert buf[len(head):len(text)].tobytes() == rest.encode("ascii")
    table.finish()
    assert table.lookup([f"*{k}" for k in range(1, 30)]) == [f"a[{k}]" for k in range(1, 30)]


def test_mapped_and_copied_header_read_alike(tmp_path):
    """A plain file's header is mapped (copy-on-write), a gzip file's or one with fewer than PAD bytes after its
    header is copied piece by piece: both read as the line reader reads them, and the file itself is unchanged."""
    import gzip

    plain = _write(tmp_path, "t.spef", SPEF)
    packed = tmp_path / "t.spef.gz"
    packed.write_bytes(gzip.compress(SPEF.encode()))
    short_text = SPEF[:SPEF.index("*D_NET")] + "*D_NET *2 1\n*CONN\n*END\n"
    short = _write(tmp_path, "short.spef", short_text)
    for path, mapped in ((plain, True), (packed, False), (short, False)):
        with spef_module.open_bytes(path) as fh:
            assert (spef_module._mapped_header(fh) is not None) == mapped, path
        _same(spef_module._read_blocks(path), spef_module._read_lines(path))
    assert plain.read_text() == SPEF and short.read_text() == short_text


@pytest.mark.parametrize("reserve", [None, 0, 5, 12, 1000])
def test_parasitics_reserved_columns_equal_parts(reserve):
    """Entries written into reserved columns (cut to size at the end; parts once they overflow) give the arrays that
    parts concatenated give: every column, dtype and the per-net pointers."""
    rng = np.random.default_rng(0)
    blocks = []
    for size in (3, 0, 4, 6):
        net = np.sort(rng.integers(0, 5, size))
        blocks.append((net, rng.random(size), rng.integers(0, 9, size), rng.integers(0, 9, size)))
    par = spef_module.Parasitics()
    if reserve is not None:
        par.reserve(reserve)
    for net, value, a, b in blocks:
        par.add("ground", net, value, a)
        par.add("res", net, value * 2, a, b)
    par.finish(5)
    want = {"ground": [(n, a, a, v) for n, v, a, _ in blocks], "res": [(n, a, b, v * 2) for n, v, a, b in blocks]}
    for kind, parts in want.items():
        for j, col in enumerate(("net", "a", "b", "value")):
            expected = np.concatenate([p[j] for p in parts])
            got = par.arrays[kind][col]
            assert got.dtype == expected.dtype and got.tolist() == expected.tolist(), (kind, col)
        counts = np.bincount(np.concatenate([p[0] for p in parts]), minlength=5)
        assert par.ptr[kind].tolist() == [0] + np.cumsum(counts).tolist()
    assert len(par.arrays["coupling"]["net"]) == 0 and par.arrays["coupling"]["value"].dtype == np.float64
    assert par.arrays["ground"]["a"] is not par.arrays["ground"]["b"]


def test_cell_tokens_equal_the_line_readers_rule():
    """Each *CONN line's cell token (after the first *D from the fourth token on, not the last; *I lines only), as
    the line reader finds it with ``tok.index("*D")``, for lines with *D anywhere, repeated or missing."""
    rng = np.random.default_rng(2)
    words = ["*D", "*C", "1.5", "x", "*L", "DD", "*Dx", "cellA", "cellB"]
    lines = []
    for _ in range(400):
        tok = [rng.choice(["*I", "*P"]), "*1:A", rng.choice(["I", "O", "B"])]
        tok += [str(rng.choice(words)) for _ in range(int(rng.integers(0, 6)))]
        lines.append(tok)
    text = "".join(" ".join(t) + "\n" for t in lines).encode("ascii")
    buf = spef_module.scan.padded(text)
    starts, ends = spef_module._spans(buf)
    count = np.array([len(t) for t in lines])
    first = np.cumsum(count) - count
    inst = np.array([t[0] == "*I" for t in lines])
    got = spef_module._cell_tokens(buf, starts, ends - starts, first, count, inst)
    for k, tok in enumerate(lines):
        want = tok[tok.index("*D", 3) + 1] if tok[0] == "*I" and "*D" in tok[3:-1] else None
        cell = None if got[k] < 0 else text[starts[got[k]]:ends[got[k]]].decode()
        assert cell == want, tok


@pytest.mark.parametrize("edit", [
    lambda t: t.replace("\n*CONN\n", "\n  *CONN\n").replace("\n*I ", "\n\t*I "),  # indented lines
    lambda t: t.replace("\n*END\n", "  \n \t\n   *END \n"),  # trailing white space, a line of it, then indented
    lambda t: t.replace("*D_NET *2 2.5", "\n \n\t*D_NET\t*2  2.5"),  # blank lines and tabs before a net
])
def test_block_reader_finds_lines_after_any_white_space(tmp_path, edit, monkeypatch):
    """A line's first token is found after a newline, or after other white space that holds one: the block reader
    reads indented lines and lines with trailing white space as the line reader does."""
    path = _write(tmp_path, "t.spef", edit(SPEF))
    assert edit(SPEF) != SPEF
    for chars in (1 << 24, 64):
        monkeypatch.setattr(spef_module, "_BLOCK_CHARS", chars)
        _same(spef_module._read_blocks(path), spef_module._read_lines(path))


def test_coupling_nodes_resolved_by_name_map_index(shared_data, monkeypatch):
    """``coupling_arrays`` resolves the nodes written ``*<index>:<tail>`` by their index (``Spef.keys``): on a shared
    design only the others (its ports, written by name) reach the lookup by name, and the pairs are those the
    lookup by name gives for every node."""
    path = shared_data / "circuits" / "gcd_sky130hd" / "gcd_sky130hd.spef"
    asked = []
    by_name = spef_module.Spef._node_nets
    monkeypatch.setattr(spef_module.Spef, "_node_nets", lambda self, nodes: asked.append(nodes.tolist()) or
                        by_name(self, nodes))
    keyed = spef_module._read_blocks(path)
    names, a, b, cap = keyed.coupling_arrays()
    assert len(asked) == 1 and asked[0] and all(":" not in n for n in asked[0]), asked[:1]
    assert set(asked[0]) <= set(keyed.ports)
    plain = spef_module._read_blocks(path)
    plain.keys = None
    assert plain.coupling_arrays()[0] == names
    for x, y in zip(plain.coupling_arrays()[1:], (a, b, cap)):
        assert x.tolist() == y.tolist()
    assert len(asked) == 2 and len(asked[1]) > 10 * len(asked[0])  # without the keys every node is asked by name


def test_an_instance_named_like_a_net_is_told_apart_by_its_index(tmp_path):
    """An instance that shares its name with a net (Verilog's nets and instances are separate name spaces) under
    its own name-map index: its pin ``*5:A`` is on the net its ``*CONN`` entry says (a.b[0]); read by name,
    ``n2:A`` would be a sub-node of net n2 and the capacitor one within net n2."""
    text = (SPEF.replace("*4 u2\n", "*4 u2\n*5 n2\n")
            .replace("*I *3:A I *D INV_X1", "*I *3:A I *D INV_X1\n*I *5:A I *D INV_X1")
            .replace("3 *3:A *4:Y 2.0", "3 *3:A *4:Y 2.0\n4 *5:A *4:Y 1.0"))
    spef = spef_module._read_blocks(_write(tmp_path, "t.spef", text))
    # a.b[0]'s side: 2.0 + 1.0 fF; n2's side: 2.0 fF; both sides listed: their mean
    assert spef.coupling_pairs() == {("a.b[0]", "n2"): pytest.approx(2.5e-15)}
    assert spef.skipped["coupling within one net"] == 0
