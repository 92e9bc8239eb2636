"""The readers of each export format: files in, RawOrders (and file-level issues) out, one
order at a time, so that a file of a million orders is never held in memory.

    canonical      our own layout, CSV or JSON Lines (by the file's extension)
    shopify        Shopify admin's "Export orders" CSV
    taobao         Taobao/Tmall seller-center order report (+ item report), GBK or UTF-8
    MAPPING.yaml   any CSV, through a mapping file
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from oms.imports.dialect import Dialect
from oms.imports.model import Issue, RawOrder

NAMES = ("canonical", "shopify", "taobao")


class Format(Protocol):
    name: str
    dialect: Dialect

    def read(self, paths: Sequence[Path]) -> Iterator[RawOrder | Issue]:
        """Every order of the files in file order; a file that cannot be read at all is
        one Issue (and the next file is read)."""
        ...

    def fingerprint(self) -> bytes:
        """What, besides the files, decides what is read (a mapping file's bytes)."""
        ...


class UnknownFormat(ValueError):
    pass


def get_format(spec: str) -> Format:
    """``canonical``, ``shopify``, ``taobao`` or the path of a mapping file (.yaml/.yml)."""
    if spec == "canonical":
        from oms.imports.formats.canonical import Canonical

        return Canonical()
    if spec == "shopify":
        from oms.imports.formats.shopify import Shopify

        return Shopify()
    if spec == "taobao":
        from oms.imports.formats.taobao import Taobao

        return Taobao()
    if spec.endswith((".yaml", ".yml")):
        from oms.imports.formats.mapping import Mapping

        return Mapping.load(Path(spec))
    raise UnknownFormat(
        f"unknown format {spec!r}: canonical, shopify, taobao or a mapping file (.yaml)"
    )
