"""``oms import``: historical orders from another system, checked before anything is written.

    oms import orders FILE... --channel C [--format canonical|shopify|taobao|MAPPING.yaml]
                      [--dry-run] [--skip-invalid] [--create-skus] [--report F.json|F.csv]
                      [--start-rate N] [--no-start]
    oms import sample --format canonical|shopify|taobao DIR [--orders N] [--errors]
                      [--sku SKU ...]

``orders`` reads every file and checks every order first (streaming: only the ids seen,
for duplicates, and the SKUs met stay in memory), and prints the findings by file and line
with the rule's code, then a summary. ``--dry-run`` stops there and writes nothing (exit 0
when every order is valid, 1 otherwise). Otherwise any invalid order refuses the whole
import (exit 1, nothing written) unless ``--skip-invalid``; the valid orders are then
written (``oms.imports.writer``, idempotent by channel and external id, resumable under a
run key drawn from the channel, the format and the files' bytes) and the open ones started
at ``--start-rate`` a second (``oms.imports.starter``) unless ``--no-start``. Exit 2 for a
command that cannot run (a missing file, an unknown channel or format, no database).

The database is ``DATABASE_URL`` (or ``oms dev``'s embedded one), as for ``oms migrate``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import pickle
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.exc import DBAPIError
from temporalio.service import RPCError

from oms.imports.formats import NAMES, Format, UnknownFormat, get_format
from oms.imports.model import Issue, Order, RawOrder
from oms.imports.report import Report, Sink
from oms.imports.rules import Checks, Seen, validate
from oms.imports.start_cli import DEFAULT_RATE as DEFAULT_START_RATE
from oms.imports.start_cli import with_payload_keys
from oms.settings import Settings

CHUNK = 2000  # orders validated per look-up of the SKUs they name
Lookup = Callable[[list[str]], Awaitable[set[str]]]


class CommandError(RuntimeError):
    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def add_parser(sub: Any) -> None:
    imp = sub.add_parser(
        "import", help="historical orders from another system (checked, then written)"
    ).add_subparsers(dest="action", required=True)
    orders = imp.add_parser(
        "orders", help="check and import orders from export files (docs/migration.md)"
    )
    orders.add_argument("files", nargs="+", metavar="FILE", type=Path)
    orders.add_argument("--channel", required=True, help="the sales channel they belong to")
    orders.add_argument(
        "--format",
        dest="fmt",
        metavar="FORMAT",
        help="canonical (the default, .csv/.jsonl/.ndjson), shopify, taobao, or a mapping "
        "file MAPPING.yaml",
    )
    orders.add_argument("--dry-run", action="store_true", help="check and report; write nothing")
    orders.add_argument(
        "--skip-invalid", action="store_true", help="import the valid orders, skip the others"
    )
    orders.add_argument(
        "--create-skus", action="store_true", help="accept SKUs no warehouse has (as a warning)"
    )
    orders.add_argument(
        "--report", type=Path, metavar="FILE", help="every finding and the summary to .json/.csv"
    )
    orders.add_argument(
        "--start-rate",
        type=float,
        default=DEFAULT_START_RATE,
        metavar="N",
        help=f"open orders started a second at most (default {DEFAULT_START_RATE:g})",
    )
    orders.add_argument("--no-start", action="store_true", help="write, start nothing")
    orders.add_argument("--json", action="store_true", help="the summary as JSON on stdout")
    verify = imp.add_parser(
        "verify", help="reconcile export files with what the database holds for the channel"
    )
    verify.add_argument("files", nargs="+", metavar="FILE", type=Path)
    verify.add_argument("--channel", required=True, help="the channel they were imported to")
    verify.add_argument("--format", dest="fmt", metavar="FORMAT", help="as for oms import orders")
    verify.add_argument(
        "--sample", type=int, default=200, metavar="N", help="orders compared field by field"
    )
    verify.add_argument("--seed", type=int, default=0, help="which orders the sample draws")
    from oms.imports.start_cli import add_parser as add_start_parser

    add_start_parser(imp)
    sample = imp.add_parser("sample", help="write sample export files (for trials and tests)")
    sample.add_argument("folder", type=Path, metavar="DIR")
    sample.add_argument("--format", dest="fmt", required=True, choices=NAMES)
    sample.add_argument("--orders", type=int, default=20, metavar="N")
    sample.add_argument("--errors", action="store_true", help="with a handful of mistakes")
    sample.add_argument(
        "--sku",
        action="append",
        dest="skus",
        metavar="SKU",
        help="a SKU the sample's lines draw from (repeat; default SAMPLE-TEE-S ...)",
    )


def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    if args.action == "sample":
        return run_sample(args)
    assert settings is not None
    try:
        if args.action == "verify":
            return asyncio.run(run_verify(args, settings))
        return asyncio.run(run_orders(args, settings))
    except CommandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.status


def run_sample(args: argparse.Namespace) -> int:
    from oms.imports import samples

    if args.orders < 1:
        sys.stderr.write("error: --orders must be 1 or more\n")
        return 2
    try:
        paths = samples.write(
            args.fmt,
            args.folder,
            args.orders,
            args.skus or samples.DEFAULT_SKUS,
            errors=args.errors,
        )
    except OSError as exc:
        sys.stderr.write(f"error: {args.folder}: {exc.strerror or exc}\n")
        return 2
    for path in paths:
        print(path)
    if args.errors:
        table = samples.TAOBAO_MISTAKES if args.fmt == "taobao" else samples.MISTAKES
        mistakes = {n: c for n, c in table.items() if n <= args.orders}
        print(
            "mistakes (order number: rule): " + ", ".join(f"{n}: {c}" for n, c in mistakes.items())
        )
    return 0


def resolve_format(spec: str | None, files: Sequence[Path]) -> Format:
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise CommandError(f"no such file: {', '.join(missing)}")
    if spec is None:
        odd = [str(p) for p in files if p.suffix.lower() not in (".csv", ".jsonl", ".ndjson")]
        if odd:
            raise CommandError(
                f"give --format for {', '.join(odd)} (canonical reads .csv, .jsonl and .ndjson)"
            )
        spec = "canonical"
    from oms.imports.formats.mapping import MappingFileError

    try:
        return get_format(spec)
    except (UnknownFormat, MappingFileError) as exc:
        raise CommandError(str(exc)) from exc


def run_key(channel: str, fmt: Format, files: Sequence[Path]) -> str:
    """The same channel, format and bytes: the same run (a resumed run finds its work)."""
    h = hashlib.sha256()
    h.update(channel.encode() + b"\x1f" + fmt.name.encode() + b"\x1f" + fmt.fingerprint())
    for path in files:
        h.update(b"\x1e")
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()


class Progress:
    """One line on stderr, redrawn at most five times a second, when it is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.started = time.monotonic()
        self._drawn = 0.0
        self.phase = "checked"

    def __call__(self, done: int, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._drawn < 0.2:
            return
        self._drawn = now
        rate = done / max(now - self.started, 1e-6)
        sys.stderr.write(f"\r{self.phase} {done:>12,} orders  {rate:>10,.0f}/s ")
        sys.stderr.flush()

    def restart(self, phase: str) -> None:
        self.end()
        self.phase, self.started, self._drawn = phase, time.monotonic(), 0.0

    def end(self) -> None:
        if self.enabled and self._drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()
        self._drawn = 0.0


class Checker:
    """Reads and validates the files once, the SKUs looked up a chunk at a time. The valid
    orders go to a spool (a temporary file, a pickled chunk at a time, deleted when closed)
    that ``valid`` reads back: the writer gets exactly the orders that were checked, and the
    files are not parsed twice."""

    def __init__(
        self, fmt: Format, files: Sequence[Path], lookup: Lookup | None, *, create_skus: bool
    ) -> None:
        self.fmt = fmt
        self.files = list(files)
        self.lookup = lookup
        self.known: set[str] = set()
        self.asked: set[str] = set()
        self.checks = Checks(
            fmt.dialect, known_skus=self.known if lookup else None, create_skus=create_skus
        )
        self._spool = tempfile.TemporaryFile(prefix="oms-import-")
        self._chunks = 0

    async def _resolve(self, chunk: list[RawOrder]) -> None:
        if self.lookup is None:
            return
        wanted = sorted(
            {line.sku.strip() for raw in chunk for line in raw.lines if line.sku.strip()}
            - self.asked
        )
        if wanted:
            self.known.update(await self.lookup(wanted))
            self.asked.update(wanted)

    async def check(self, report: Report, progress: Progress | None = None) -> None:
        seen = Seen()
        chunk: list[RawOrder] = []
        for item in self.fmt.read(self.files):
            if isinstance(item, Issue):
                report.file_issue(item)
                continue
            chunk.append(item)
            if len(chunk) >= CHUNK:
                await self._validate(chunk, seen, report)
                chunk = []
                if progress:
                    progress(report.orders_read)
        await self._validate(chunk, seen, report)
        if progress:
            progress(report.orders_read, force=True)

    async def _validate(self, chunk: list[RawOrder], seen: Seen, report: Report) -> None:
        await self._resolve(chunk)
        good: list[Order] = []
        for raw in chunk:
            order, issues = validate(raw, self.checks, seen)
            report.order(order, issues)
            if order is not None:
                good.append(order)
        if good:
            pickle.dump(good, self._spool, protocol=pickle.HIGHEST_PROTOCOL)
            self._chunks += 1

    def valid(self) -> Iterator[Order]:
        """The valid orders, in the files' order, as ``check`` found them."""
        self._spool.seek(0)
        for _ in range(self._chunks):
            yield from pickle.load(self._spool)  # our own spool, written by check

    def close(self) -> None:
        self._spool.close()


async def run_orders(args: argparse.Namespace, settings: Settings) -> int:
    fmt = resolve_format(args.fmt, args.files)
    if args.start_rate <= 0:
        raise CommandError("--start-rate must be more than 0")
    try:
        sink = Sink(args.report) if args.report else None
    except (ValueError, OSError) as exc:
        raise CommandError(str(exc)) from exc

    from oms.db.engine import make_engine
    from oms.store import channels, stock

    engine = make_engine(settings, pool_size=2)
    checker: Checker | None = None
    try:
        try:
            channel = await channels.one(engine, args.channel)
        except Exception as exc:  # the database cannot be reached: say so, no traceback
            raise CommandError(f"could not read the database: {exc}") from exc
        if channel is None:
            raise CommandError(
                f"unknown channel {args.channel!r} (oms channels list; oms channels add NAME ...)"
            )

        async def lookup(skus: list[str]) -> set[str]:
            return await stock.known_skus(engine, skus)

        checker = Checker(fmt, args.files, lookup, create_skus=args.create_skus)
        report = Report(sink=sink)
        progress = Progress(sys.stderr.isatty())
        await checker.check(report, progress)
        progress.end()
        report.close()
        print(report.text())
        if args.json:
            print(json.dumps(report.summary(), ensure_ascii=False))
        if args.dry_run:
            print("dry run: nothing written")
            return 0 if report.ok else 1
        if not report.ok and not args.skip_invalid:
            print(
                "nothing written: fix the findings above, or import the valid orders "
                "with --skip-invalid"
            )
            return 1
        if report.valid == 0:
            print("nothing written: no valid order")
            return 1
        return await _write(args, settings, engine, checker, fmt, progress, report)
    finally:
        if checker is not None:
            checker.close()
        await engine.dispose()


async def run_verify(args: argparse.Namespace, settings: Settings) -> int:
    """``oms import verify``: the files read and checked as the import reads them, then set
    against the database (``oms.imports.verify``). Exit 0 when they agree, 1 with every
    difference listed."""
    fmt = resolve_format(args.fmt, args.files)
    if args.sample < 0:
        raise CommandError("--sample must be 0 or more")
    from oms.db.engine import make_engine
    from oms.imports.verify import render, verify

    engine = make_engine(settings, pool_size=2)
    checker = Checker(fmt, args.files, None, create_skus=True)
    try:
        report = Report(sink=None)
        progress = Progress(sys.stderr.isatty())
        await checker.check(report, progress)
        progress.end()
        if report.orders_read - report.valid:
            print(
                f"{report.orders_read - report.valid:,} orders of the files do not pass the "
                "import's rules and were never imported: they are left out of the comparison"
            )
        try:
            result = await verify(
                engine, args.channel, checker.valid(), sample=args.sample, seed=args.seed
            )
        except Exception as exc:  # the database cannot be reached: say so, no traceback
            raise CommandError(f"could not read the database: {exc}") from exc
        print(render(result))
        return 0 if result.ok else 1
    finally:
        checker.close()
        await engine.dispose()


async def _write(
    args: argparse.Namespace,
    settings: Settings,
    engine: Any,
    checker: Checker,
    fmt: Format,
    progress: Progress,
    report: Report,
) -> int:
    from oms.imports import starter, writer

    key = run_key(args.channel, fmt, args.files)
    progress.restart("written")
    try:
        written = await writer.write_orders(
            engine, args.channel, checker.valid(), run_key=key, progress=progress
        )
    except (DBAPIError, OSError) as exc:  # the database went away half way
        progress.end()
        raise CommandError(
            f"the database stopped answering during the import ({type(exc).__name__}); every "
            "batch written so far is kept: run the same command again and it goes on from "
            "there",
            status=1,
        ) from exc
    progress.end()
    print(
        f"written (run {key[:12]}): inserted {written.inserted:,}, updated "
        f"{written.updated:,}, unchanged {written.unchanged:,}, refused {written.refused:,}"
        f", open orders {written.open_orders:,}"
        + (f", resumed after {written.resumed_after:,}" if written.resumed_after else "")
    )
    if args.no_start:
        print("open orders not started (--no-start): run the import again without it")
        return 0 if report.ok else 1
    from oms.temporal_client import connect

    try:
        client = await asyncio.wait_for(connect(with_payload_keys(settings)), 10)
    except Exception as exc:
        raise CommandError(
            f"the orders are written, but Temporal could not be reached to "
            f"start the open ones ({exc}); run the same import again"
        ) from exc
    progress.restart("started")
    try:
        started = await starter.start_open(
            engine, client, args.channel, rate_per_s=args.start_rate, progress=progress
        )
    except (RPCError, DBAPIError, OSError) as exc:  # Temporal or the database went away
        progress.end()
        raise CommandError(
            f"the orders are written, but starting the open ones stopped ({type(exc).__name__})"
            f": run oms import start --channel {args.channel} to start the rest",
            status=1,
        ) from exc
    progress.end()
    print(f"open orders started: {started.started:,} (already running {started.already_running:,})")
    return 0 if report.ok else 1
