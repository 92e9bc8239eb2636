"""How one export format's values are to be read: its status words, its date shapes, its
money conventions. Each reader (``oms.imports.formats``) comes with one; the validation
rules (``oms.imports.rules``) read every RawOrder through it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import tzinfo

from oms.imports.model import ImportStatus, RawOrder


class StatusProblem(ValueError):
    """The order's source status cannot be imported: ``code`` is ``status`` (a value the
    format does not know) or ``unpaid`` (an order never paid, which is not imported)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


StatusOf = Callable[[RawOrder], ImportStatus]


def status_table(table: dict[str, ImportStatus | None], what: str) -> StatusOf:
    """A status read from a table of source words: None in the table marks an unpaid
    order (refused with ``unpaid``); a word not in the table is refused with ``status``."""

    def status_of(raw: RawOrder) -> ImportStatus:
        word = (raw.status or "").strip()
        if word not in table:
            known = ", ".join(sorted(table))
            raise StatusProblem("status", f"not a {what} status (known: {known})")
        found = table[word]
        if found is None:
            raise StatusProblem("unpaid", f"{word!r}: an order never paid is not imported")
        return found

    return status_of


@dataclass(frozen=True)
class Dialect:
    """``date_formats``: ``strptime`` shapes tried in turn; empty means ISO 8601.
    ``naive``: the zone of a time written without an offset, or None when an offset is
    required. ``subtotal_after_discount``: the file's subtotal is the goods less the
    discount (Shopify, Taobao); when the file has no discount of its own, the discount
    is the lines' sum less that subtotal. ``decimal_comma``: ``12,50`` is twelve and a
    half. ``currency``: the currency when the file has none (Taobao: CNY)."""

    name: str
    status_of: StatusOf
    date_formats: tuple[str, ...] = ()
    naive: tzinfo | None = None
    subtotal_after_discount: bool = False
    decimal_comma: bool = False
    currency: str | None = None
    statuses: tuple[str, ...] = field(default=())  # the source words, for the docs
