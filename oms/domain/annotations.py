"""Field annotations kept as types, for the classes that cross the Temporal boundary.

The Temporal payload converter calls ``typing.get_type_hints`` on a dataclass for every
payload it decodes into one. With string annotations (``from __future__ import
annotations``) each of those calls compiles every field's annotation again: about 110 µs
for ``OrderView`` with its nested classes, several percent of the worker's CPU under load
(docs/performance.md). Resolved once at import, the same call takes about 25 µs.
"""

from __future__ import annotations

import typing
from typing import Any


def resolve_annotations(namespace: dict[str, Any]) -> None:
    """Replace the string annotations of every dataclass defined in ``namespace`` (a
    module's ``globals()``, called at its end) with the types they name."""
    module = namespace.get("__name__")
    for value in list(namespace.values()):
        if (
            isinstance(value, type)
            and value.__module__ == module
            and "__dataclass_fields__" in vars(value)
        ):
            value.__annotations__ = typing.get_type_hints(value)
