"""Hypothesis strategies for fuzzing the pattern readers and the composition input.

Three kinds of pattern file: random bytes; structured two/three-column text files whose numbers
are drawn from a pool of awkward tokens (``1e400``, ``nan``, ``.``, huge exponents, negative
and duplicated angles …); and structured powder CIFs (a ``data_`` block, optional wavelength
and 2θ-range tags, a loop of measured values with optional esds) that are then mutated
(a slice deleted, junk inserted). Shared by ``test_fuzz_pattern_readers.py`` and its slow
counterpart.
"""

from __future__ import annotations

from hypothesis import strategies as st

#: Tokens that broke, or could break, a number parser.
AWKWARD = [
    "1e400", "-1e400", "1e-400", "1e" + "9" * 400, "nan", "NaN", "inf", "-inf", "Infinity",
    ".", "?", "0", "-0", "0.0", "1_0", "0x10", "1.2.3", "١٢", "1e", "e5", "--1", "+", "(3)",
    "1(2)", "12.5(13)", "1e400(3)", "1.0e-5(2)", "2.5e3(1)", "180", "180.0", "0.0001",
    "179.9999", "-10", "1e308", "1.8e308", "-1.8e308", "5e-324",
]

SUFFIXES = [".xy", ".xye", ".dat", ".txt", ".csv", ".cif", ".CIF", ".XY"]

#: Tags of a powder CIF loop: 2θ, measured intensities and some others.
CIF_TAGS = [
    "_pd_meas_2theta_scan", "_pd_proc_2theta_corrected", "_pd_meas_angle_2theta",
    "_pd_meas_counts_total", "_pd_meas_intensity_total", "_pd_proc_intensity_net",
    "_pd_proc_intensity_norm", "_pd_calc_intensity_total", "_pd_proc_ls_weight",
]
WAVELENGTH_TAGS = ["_diffrn_radiation_wavelength", "_pd_proc_wavelength"]
RANGE_TAGS = [
    "_pd_meas_2theta_range_min", "_pd_meas_2theta_range_max", "_pd_meas_2theta_range_inc",
    "_pd_proc_2theta_range_min", "_pd_proc_2theta_range_max", "_pd_proc_2theta_range_inc",
]
RADIATION_TYPES = ["'Cu K\\a~1~'", "MoKa", "'Cu Kα'", "Xx", "AgKb", "?", "."]


def _plain_number() -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(-1000, 100_000).map(str),
        st.floats(-1e6, 1e6, allow_nan=False).map(lambda x: f"{x:.6g}"),
        st.floats(0.01, 179.99).map(lambda x: f"{x:.4f}"),
    )


def number_token() -> st.SearchStrategy[str]:
    """A number most of the time; an awkward token or short junk sometimes."""
    return st.one_of(
        _plain_number(),
        _plain_number(),
        st.sampled_from(AWKWARD),
        st.floats().map(repr),
        st.text(alphabet="0123456789.eE+-()?,;# \tabc\x00", max_size=8),
    )


def _scan() -> st.SearchStrategy[tuple[float, float]]:
    """(first 2θ, step): mostly a plausible increasing scan, sometimes not."""
    plausible = st.tuples(st.floats(1.0, 60.0), st.floats(0.005, 2.0))
    odd = st.tuples(
        st.floats(-5.0, 185.0, allow_nan=False),
        st.one_of(st.floats(-1.0, 3.0, allow_nan=False), st.just(0.0), st.just(-0.02)),
    )
    return st.one_of(plausible, plausible, odd)


@st.composite
def xy_text(draw: st.DrawFn) -> str:
    """A column text file: optional comments/header, rows of 1–4 tokens, mixed separators."""
    lines: list[str] = []
    if draw(st.booleans()):
        lines.append(draw(st.sampled_from(["# 2theta intensity", "! comment", "2theta counts esd",
                                           "header, with, commas", ""])))
    width = draw(st.sampled_from([2, 2, 2, 3, 3, 1, 4]))
    n = draw(st.integers(0, 25))
    start, step = draw(_scan())
    sep = draw(st.sampled_from([" ", "\t", ",", ";", "  ", ", "]))
    for i in range(n):
        if draw(st.integers(0, 29)) == 0:  # a mutated row
            row = draw(st.lists(number_token(), min_size=0, max_size=5))
        else:
            row = [f"{start + i * step:.5f}"]
            row += [str(draw(st.integers(0, 10**5))) for _ in range(width - 1)]
            if draw(st.integers(0, 9)) == 0:
                row[1:] = [draw(_plain_number()) for _ in range(width - 1)]
            if width > 1 and draw(st.integers(0, 39)) == 0:
                row[1] = draw(st.sampled_from(AWKWARD))
        lines.append(sep.join(row))
        if draw(st.integers(0, 19)) == 0:
            lines.append(draw(st.sampled_from(["# note", "", "junk line", "1"])))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return newline.join(lines) + draw(st.sampled_from(["", newline]))


@st.composite
def cif_text(draw: st.DrawFn) -> str:
    """A powder-CIF skeleton with awkward numbers: blocks, wavelength, range tags, one loop."""
    out = [f"data_{draw(st.sampled_from(['p', 'profile', 'x_1', '']))}"]
    for tag in draw(st.lists(st.sampled_from(WAVELENGTH_TAGS), max_size=2, unique=True)):
        out.append(f"{tag} {draw(number_token()) or '?'}")
    if draw(st.booleans()):
        out.append(f"_diffrn_radiation_type {draw(st.sampled_from(RADIATION_TYPES))}")
    for tag in draw(st.lists(st.sampled_from(RANGE_TAGS), max_size=6, unique=True)):
        out.append(f"{tag} {draw(number_token()) or '.'}")
    if draw(st.integers(0, 3)) > 0:  # the usual pair, in either order
        pair = [draw(st.sampled_from(CIF_TAGS[:3])), draw(st.sampled_from(CIF_TAGS[3:7]))]
        tags = draw(st.permutations(pair))
    else:
        tags = draw(st.lists(st.sampled_from(CIF_TAGS), min_size=1, max_size=4, unique=True))
    if draw(st.integers(0, 9)) > 0:
        out.append("loop_")
    out += [f" {t}" for t in tags]
    n = draw(st.integers(0, 20))
    start, step = draw(_scan())
    esd = draw(st.booleans())
    for i in range(n):
        values = []
        for t in tags:
            if "2theta" in t or "angle" in t:
                values.append(f"{start + i * step:.4f}")
            else:
                v = draw(st.integers(0, 5000))
                values.append(f"{v}({draw(st.integers(1, 99))})" if esd else str(v))
        if draw(st.integers(0, 29)) == 0:
            values[draw(st.integers(0, len(values) - 1))] = draw(number_token()) or "?"
        elif draw(st.integers(0, 39)) == 0:
            values[draw(st.integers(0, len(values) - 1))] = draw(st.sampled_from(AWKWARD))
        if draw(st.integers(0, 29)) == 0:
            values = values[:-1]  # a short row: the loop's value count is off
        out.append(" " + " ".join(values))
    if draw(st.integers(0, 9)) == 0:  # a second block, e.g. holding the wavelength
        out.append(f"data_second\n_diffrn_radiation_wavelength {draw(number_token()) or '?'}")
    return "\n".join(out) + "\n"


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[str]) -> bytes:
    """``base`` text as UTF-8, sometimes with a slice deleted or junk bytes inserted."""
    data = draw(base).encode("utf-8")
    kind = draw(st.integers(0, 8))
    if kind == 0 and data:
        i = draw(st.integers(0, len(data) - 1))
        j = draw(st.integers(i, len(data)))
        data = data[:i] + data[j:]
    elif kind == 1:
        i = draw(st.integers(0, len(data)))
        data = data[:i] + draw(st.binary(min_size=1, max_size=12)) + data[i:]
    elif kind == 2 and data:
        data = data[: draw(st.integers(0, len(data)))]  # truncated
    return data


def pattern_file() -> st.SearchStrategy[tuple[bytes, str]]:
    """``(content, suffix)`` of a fuzzed pattern file."""
    xy = st.tuples(mutated(xy_text()), st.sampled_from([".xy", ".xye", ".dat", ".txt", ".csv"]))
    cif = st.tuples(mutated(cif_text()), st.sampled_from([".cif", ".CIF"]))
    junk = st.tuples(st.binary(max_size=300), st.sampled_from(SUFFIXES))
    swapped = st.tuples(mutated(xy_text()), st.sampled_from([".cif", ".raw"]))  # wrong suffix
    kinds = [xy, xy, xy, xy, cif, cif, cif, cif, junk, swapped]
    return st.integers(0, len(kinds) - 1).flatmap(lambda k: kinds[k])


_SYMBOLS = ["Ba", "O", "Na", "Cl", "Es", "Og", "Xx", "Fe", "H", "D", "Uue", "Q", "N", "Cf", "e", "nan"]


def composition_input() -> st.SearchStrategy[object]:
    """Formula strings, element lists, mappings (with NaN/inf/negative amounts) and junk."""
    amount = st.one_of(
        st.floats(), st.integers(-3, 10), st.sampled_from(["1", "x", "", "nan", None]),
    )
    token = st.one_of(
        st.sampled_from(_SYMBOLS), st.sampled_from(AWKWARD), st.sampled_from(list("()[]·*+-, "))
    )
    return st.one_of(
        st.lists(token, max_size=8).map("".join),
        st.text(max_size=20),
        st.dictionaries(st.sampled_from(_SYMBOLS), amount, max_size=4),
        st.lists(st.sampled_from(_SYMBOLS), max_size=4),
        st.none(),
        st.integers(),
    )
