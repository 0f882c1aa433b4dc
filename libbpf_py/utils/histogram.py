"""Histograms printed like bcc's ``print_log2_hist`` / ``print_linear_hist``.

BPF programs aggregate latencies or sizes into buckets in a map (an array indexed by bucket, or a
hash keyed by bucket); these helpers turn the bucket counts into bcc's text layout::

         usecs               : count     distribution
             0 -> 1          : 0        |                                        |
             2 -> 3          : 4        |****                                    |
             4 -> 7          : 40       |****************************************|

Log2 buckets follow libbpf-tools' convention (``bits.bpf.h``'s ``log2l``): slot ``i`` counts the
values ``v`` with ``floor(log2(v)) == i``, i.e. ``2**i <= v < 2**(i+1)``, and slot 0 also holds
``v == 0``. :func:`log2_slot` computes the same slot in Python. (bcc's ``bpf_log2l()`` numbers the
same buckets from 1; its output is identical.) Linear buckets are the values themselves.

Pure Python: no privileges, and usable on any object with counts, not only maps.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing is not imported at run time: `import libbpf_py` stays light
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, TextIO, Union

    Counts = Union[Sequence[int], Mapping[Any, Any], Iterable[int]]

__all__ = ["STARS_MAX", "log2_slot", "log2_range", "log2_buckets", "bucket_counts",
           "format_log2_hist", "format_log2_hists", "format_linear_hist", "print_log2_hist",
           "print_linear_hist"]

#: Width of the star bar, as in bcc (halved when log2 buckets go beyond 2**32).
STARS_MAX = 40


def log2_slot(value: int) -> int:
    """The log2 bucket of ``value``: ``floor(log2(value))``, 0 for 0 and 1 (like ``log2l()``)."""
    if value < 0:
        raise ValueError(f"log2 histogram values can't be negative: {value}")
    return max(int(value).bit_length() - 1, 0)


def log2_range(slot: int) -> tuple[int, int]:
    """The values ``(low, high)`` (inclusive) log2 slot ``slot`` counts: ``(0, 1)`` for slot 0."""
    if slot < 0:
        raise ValueError(f"log2 slots can't be negative: {slot}")
    return (0 if slot == 0 else 1 << slot), (1 << (slot + 1)) - 1


def log2_buckets(counts: Counts) -> list[dict[str, int]]:
    """The non-empty log2 buckets as ``{"low", "high", "count"}`` dicts, for JSON output."""
    return [{"low": log2_range(i)[0], "high": log2_range(i)[1], "count": v}
            for i, v in enumerate(bucket_counts(counts)) if v]


def _count(value: Any, bucket: Any) -> int:
    if isinstance(value, int):
        return value
    if isinstance(value, (list, tuple)):  # a per-CPU map: one count per possible CPU
        return sum(_count(v, bucket) for v in value)
    raise TypeError(f"bucket {bucket!r}: the count must be an int (or one int per CPU), "
                    f"not {type(value).__name__}")


def bucket_counts(counts: Counts) -> list[int]:
    """Bucket counts as a dense list (index = bucket), from a list or a mapping.

    ``counts`` is a sequence of counts indexed by bucket, or a mapping ``bucket -> count`` such
    as an array or hash ``Map`` (``int`` keys; per-CPU values are summed). Missing buckets
    count 0. Negative buckets or counts raise ``ValueError``.
    """
    if hasattr(counts, "items"):
        dense: list[int] = []
        for bucket, value in counts.items():  # type: ignore[union-attr]
            if not isinstance(bucket, int) or bucket < 0:
                raise ValueError(f"histogram buckets must be non-negative ints, not {bucket!r}")
            if bucket >= len(dense):
                dense.extend([0] * (bucket + 1 - len(dense)))
            dense[bucket] += _count(value, bucket)
    else:
        dense = [_count(v, i) for i, v in enumerate(counts)]
    for i, v in enumerate(dense):
        if v < 0:
            raise ValueError(f"bucket {i}: negative count {v}")
    return dense


def _stars(val: int, val_max: int, width: int) -> str:
    # bcc's _stars(): floor(width * val / val_max) stars.
    return "*" * (min(width, (width * val) // val_max) if val_max else 0)


def format_log2_hist(counts: Counts, val_type: str = "value", *,
                     strip_leading_zero: bool = False) -> str:
    """The text of a log2 histogram, exactly as bcc's ``print_log2_hist`` prints it.

    ``counts``: per-slot counts (see :func:`bucket_counts`; slot ``i`` covers
    ``[2**i, 2**(i+1) - 1]``, slot 0 covers ``0 -> 1``). ``val_type`` names the unit in the
    header ("usecs", "bytes"...). Rows run from slot 0 (or the first non-empty slot with
    ``strip_leading_zero``) to the last non-empty one; an all-zero histogram is the empty string.
    Beyond slot 31 (values of 2**32 and more) the wide layout with 20 stars is used, like bcc.
    """
    vals = bucket_counts(counts)
    idx_max = max((i for i, v in enumerate(vals) if v > 0), default=-1)
    if idx_max < 0:
        return ""
    val_max = max(vals)
    if idx_max <= 31:  # bcc's `idx_max <= 32`, its slots counting from 1
        header, width, stars = f"     {val_type:<19} : count     distribution", 10, STARS_MAX
    else:
        header, width, stars = f"               {val_type:<29} : count     distribution", 20, \
            STARS_MAX // 2
    lines = [header]
    for i in range(idx_max + 1):
        low, high = log2_range(i)
        val = vals[i]
        if strip_leading_zero and not val:
            continue
        strip_leading_zero = False
        lines.append(f"{low:>{width}} -> {high:<{width}} : {val:<8} "
                     f"|{_stars(val, val_max, stars):<{stars}}|")
    return "\n".join(lines) + "\n"


def format_linear_hist(counts: Counts, val_type: str = "value") -> str:
    """The text of a linear histogram, exactly as bcc's ``print_linear_hist`` prints it.

    ``counts``: counts indexed by value (a list, or a mapping value -> count such as a hash
    ``Map``). Rows run from the first to the last non-empty bucket; an all-zero histogram is the
    empty string.
    """
    vals = bucket_counts(counts)
    used = [i for i, v in enumerate(vals) if v > 0]
    if not used:
        return ""
    val_max = max(vals)
    lines = [f"     {val_type:<13} : count     distribution"]
    for i in range(used[0], used[-1] + 1):
        val = vals[i]
        lines.append(f"        {i:<10} : {val:<8} |{_stars(val, val_max, STARS_MAX):<{STARS_MAX}}|")
    return "\n".join(lines) + "\n"


def print_log2_hist(counts: Counts, val_type: str = "value", *, strip_leading_zero: bool = False,
                    file: Optional[TextIO] = None) -> None:
    """Print :func:`format_log2_hist` to ``file`` (default ``sys.stdout``)."""
    (file or sys.stdout).write(format_log2_hist(counts, val_type,
                                                strip_leading_zero=strip_leading_zero))


def print_linear_hist(counts: Counts, val_type: str = "value", *,
                      file: Optional[TextIO] = None) -> None:
    """Print :func:`format_linear_hist` to ``file`` (default ``sys.stdout``)."""
    (file or sys.stdout).write(format_linear_hist(counts, val_type))


def format_log2_hists(hists: Mapping[Any, Counts], val_type: str = "value", *,
                      section_header: str = "Bucket ptr",
                      section_format: Optional[Callable[[Any], str]] = None,
                      strip_leading_zero: bool = False) -> str:
    """Several log2 histograms, each under a section line, as bcc prints a map whose key is
    ``{section, slot}`` (one histogram per disk, per process...).

    ``hists`` maps a section (a disk's number, a pid...) to its counts; sections come in sorted
    order. Each histogram is preceded by ``"\n<section_header> = <section>"``, the section shown
    by ``section_format`` (default ``repr``, like bcc's ``%r``).
    """
    fmt = section_format or repr
    parts = []
    for section in sorted(hists):
        parts.append(f"\n{section_header} = {fmt(section)}\n")
        parts.append(format_log2_hist(hists[section], val_type,
                                      strip_leading_zero=strip_leading_zero))
    return "".join(parts)
