"""The read-only, by-name views of an object's programs, maps and data sections
(``obj.programs``, ``obj.maps``, ``obj.sections``).

A module of its own, imported when one is first built: a cold start (open + load + attach) never
builds one, and defining a ``Mapping`` subclass (an ABC) costs more than anything else about it.
"""

from __future__ import annotations

# collections.abc's Mapping without importing the collections package (cold start).
from _collections_abc import Mapping

TYPE_CHECKING = False  # typing is not imported at run time
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any


class ByName(Mapping):  # type: ignore[type-arg]
    """Read-only mapping of an object's programs, maps or sections by name; also ``.name``
    attributes (``obj.maps.events``). A missing name's KeyError lists the names there are."""

    __slots__ = ("_kind", "_label", "_items")

    def __init__(self, kind: str, label: str, items: dict[str, Any]) -> None:
        self._kind = kind
        self._label = label
        self._items = items

    def __getitem__(self, name: str) -> Any:
        try:
            return self._items[name]
        except KeyError:
            have = ", ".join(repr(n) for n in self._items) or "none"
            raise KeyError(f"no {self._kind} named {name!r} in object '{self._label}' "
                           f"(it has: {have})") from None

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError as e:
            raise AttributeError(e.args[0]) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"<{self._kind}s of '{self._label}': {', '.join(self._items)}>"
