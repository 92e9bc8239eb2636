"""Why a platform's order could not be mapped to ours.

Every adapter validates what it reads instead of letting a ``KeyError`` or a
``TypeError`` escape: a payload the platform sent (or that a pull returned) is outside
data, and whoever calls the adapter needs the field at fault to report it (an RFC 9457
problem at a webhook, a rejected receipt at a pull), not a stack trace.
"""

from __future__ import annotations


class MappingError(ValueError):
    """The payload cannot be mapped: ``field`` is the platform's field path at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
