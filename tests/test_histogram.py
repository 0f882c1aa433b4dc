"""Histograms printed like bcc's print_log2_hist / print_linear_hist (exact text)."""

from __future__ import annotations

import io

import pytest

from libbpf_py.utils.histogram import (bucket_counts, format_linear_hist, format_log2_hist,
                                 format_log2_hists, log2_buckets,
                                 log2_range, log2_slot,
                                 print_linear_hist, print_log2_hist)

BAR = "|{:<40}|"


def test_log2_slot_matches_libbpf_tools_log2l() -> None:
    assert [log2_slot(v) for v in (0, 1, 2, 3, 4, 7, 8, 1023, 1024)] == [0, 0, 1, 1, 2, 2, 3, 9, 10]
    assert log2_slot(2**64 - 1) == 63
    with pytest.raises(ValueError, match="negative"):
        log2_slot(-1)


def test_log2_hist_layout_is_bcc_s() -> None:
    # bcc's layout: header "     %-19s : count     distribution", rows
    # "%10d -> %-10d : %-8d |%-40s|", stars = floor(40 * count / max).
    text = format_log2_hist([0, 4, 40, 0, 13], "usecs")
    assert text == (
        "     usecs               : count     distribution\n"
        "         0 -> 1          : 0        |                                        |\n"
        "         2 -> 3          : 4        |****                                    |\n"
        "         4 -> 7          : 40       |****************************************|\n"
        "         8 -> 15         : 0        |                                        |\n"
        "        16 -> 31         : 13       |*************                           |\n"
    )


def test_log2_hist_strip_leading_zero_and_trailing_zeros() -> None:
    text = format_log2_hist([0, 0, 0, 3, 0, 1, 0, 0], "nsecs", strip_leading_zero=True)
    assert text.splitlines() == [
        "     nsecs               : count     distribution",
        "         8 -> 15         : 3        " + BAR.format("*" * 40),
        "        16 -> 31         : 0        " + BAR.format(""),
        "        32 -> 63         : 1        " + BAR.format("*" * 13),  # 40 * 1 // 3
    ]


def test_log2_hist_wide_layout_beyond_32_bits() -> None:
    counts = {0: 1, 32: 2}  # slot 32 holds 2**32 .. 2**33 - 1: bcc switches to 20-wide columns
    lines = format_log2_hist(counts, "bytes").splitlines()
    assert lines[0] == "               bytes                         : count     distribution"
    assert lines[1] == f"{0:>20} -> {1:<20} : {1:<8} |{'*' * 10:<20}|"
    assert lines[-1] == f"{2**32:>20} -> {2**33 - 1:<20} : {2:<8} |{'*' * 20}|"
    assert len(lines) == 34
    # slot 31 still fits the narrow layout (4294967295 has 10 digits), as in bcc
    narrow = format_log2_hist({31: 5}, "bytes").splitlines()
    assert narrow[0].startswith("     bytes ")
    assert narrow[-1] == f"2147483648 -> 4294967295 : 5        |{'*' * 40}|"


def test_empty_histograms_print_nothing() -> None:
    assert format_log2_hist([]) == format_log2_hist([0, 0]) == ""
    assert format_linear_hist({}) == ""


def test_linear_hist_layout_is_bcc_s() -> None:
    text = format_linear_hist({3: 2, 5: 8, 6: 1}, "kbytes")
    assert text == (
        "     kbytes        : count     distribution\n"
        "        3          : 2        |**********                              |\n"
        "        4          : 0        |                                        |\n"
        "        5          : 8        |****************************************|\n"
        "        6          : 1        |*****                                   |\n"
    )


def test_counts_from_mappings_and_per_cpu_values() -> None:
    assert bucket_counts({2: 5, 0: 1}) == [1, 0, 5]
    assert bucket_counts({1: [1, 2, 3]}) == [0, 6]  # per-CPU: summed
    assert bucket_counts(iter([1, 2])) == [1, 2]
    with pytest.raises(ValueError, match="non-negative ints"):
        bucket_counts({-1: 3})
    with pytest.raises(ValueError, match="negative count"):
        bucket_counts([1, -2])
    with pytest.raises(TypeError, match="bucket 0: the count must be an int"):
        bucket_counts({0: b"\x01"})


def test_print_functions_write_to_file() -> None:
    out = io.StringIO()
    print_log2_hist([1], "usecs", file=out)
    print_linear_hist([0, 1], "slot", file=out)
    assert out.getvalue() == format_log2_hist([1], "usecs") + format_linear_hist([0, 1], "slot")
    assert out.getvalue().splitlines()[1] == f"         0 -> 1          : 1        |{'*' * 40}|"


def test_log2_ranges_and_json_buckets() -> None:
    assert [log2_range(i) for i in range(4)] == [(0, 1), (2, 3), (4, 7), (8, 15)]
    assert all(log2_slot(lo) == log2_slot(hi) == i for i in range(1, 64)
               for lo, hi in [log2_range(i)])
    assert log2_buckets({1: 2, 4: 1}) == [{"low": 2, "high": 3, "count": 2},
                                          {"low": 16, "high": 31, "count": 1}]
    with pytest.raises(ValueError, match="negative"):
        log2_range(-1)


@pytest.mark.root
def test_histogram_from_kernel_maps() -> None:
    # an array map (log2 slot -> count) and biolatency's hash map with struct keys
    import ctypes

    import libbpf_py

    with libbpf_py.Map.create(libbpf_py.MapType.ARRAY, key_type=ctypes.c_uint32,
                              value_type=ctypes.c_uint64, max_entries=32) as hist:
        hist[1], hist[4] = 3, 7
        assert bucket_counts(hist) == [0, 3, 0, 0, 7] + [0] * (hist.max_entries - 5)
        assert format_log2_hist(hist, "usecs") == format_log2_hist([0, 3, 0, 0, 7], "usecs")
        assert format_log2_hist(hist, "usecs").splitlines()[-1] == (
            f"        16 -> 31         : 7        |{'*' * 40}|")
    from libbpf_py.tools.biolatency import open_skeleton

    with open_skeleton() as opened:
        skel = opened.load()
    with skel:
        skel.maps.hist[bytes(8)] = 1
        with pytest.raises(ValueError, match="buckets must be non-negative ints"):
            format_log2_hist(skel.maps.hist)


def test_sectioned_log2_hists_like_bcc_s_secondary_keys() -> None:
    text = format_log2_hists({"vdb": [0, 1], "vda": [2]}, "usecs", section_header="disk",
                             section_format=str)
    assert text == (
        "\ndisk = vda\n"
        "     usecs               : count     distribution\n"
        f"         0 -> 1          : 2        |{'*' * 40}|\n"
        "\ndisk = vdb\n"
        "     usecs               : count     distribution\n"
        f"         0 -> 1          : 0        |{'':<40}|\n"
        f"         2 -> 3          : 1        |{'*' * 40}|\n"
    )
    assert format_log2_hists({7: [1]}).startswith("\nBucket ptr = 7\n     value ")
