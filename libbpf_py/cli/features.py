"""``features [--json]``: what this kernel supports (``libbpf_py.features``), like ``bpftool
feature`` but readable. The probes load tiny programs and create maps: run it as root."""

from __future__ import annotations

import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["report", "run"]


def report() -> dict[str, Any]:
    """Kernel version, named features, program types and map types: name -> supported."""
    from .. import features
    from ..enums import MapType, ProgType

    return {
        "kernel": ".".join(map(str, features.kernel_version())),
        "features": {name: features.has(name) for name in features.FEATURES},
        # why a missing feature is missing, where its probe can tell (the kernel's error)
        "missing_because": {name: why for name in features.FEATURES
                            if (why := features.why(name)) is not None},
        "program_types": {t.name.lower(): features.program_type(t) for t in ProgType
                          if t != ProgType.UNSPEC},
        "map_types": {t.name.lower(): features.map_type(t) for t in MapType
                      if t != MapType.UNSPEC},
    }


def run(as_json: bool) -> int:
    r = report()
    if as_json:
        print(json.dumps(r, indent=2))
        return 0
    from ..features import DESCRIPTIONS

    print(f"kernel {r['kernel']}")
    width = max(map(len, r["features"]))
    for section in ("features", "program_types", "map_types"):
        print(f"\n{section.replace('_', ' ')}:")
        for name, ok in r[section].items():
            what = DESCRIPTIONS.get(name, "") if section == "features" else ""
            if section == "features" and name in r["missing_because"]:
                what += f" ({r['missing_because'][name]})"
            print(f"  {'yes' if ok else 'no ':<4} {name:<{width}}  {what}".rstrip())
    print(f"\n{FOOTER}")
    return 0


#: the text report's last line: where the features' rows come from
FOOTER = ("These features are the rows of docs/kernels.md (in libbpf_py's source): which kernels "
          "have each one,\nmeasured by the test suite in VMs, and what degrades without it.")
