"""``oms insights``: demand forecasts and replenishment, straight to the database.

    oms insights forecast [--date D] [--json]      the nightly run, now, in this process
    oms insights backtest [--skus N --days D --seed S --holdout H] [--from-db]
    oms insights lead-time WAREHOUSE [--sku S] [--days N] [--review-days N]
                           [--service-level P]      a warehouse's (or a SKU's) replenishment
    oms insights lead-times [--warehouse W]        what is set

``forecast`` does what the ``insights-forecast`` Schedule's run does (forecasts stored for
the day, replacing that day's, and the stock-out alerts) and prints its figures.
``backtest`` forecasts a generated history (trend, weekly rhythm, promotions, intermittent
and lumpy SKUs), or with ``--from-db`` the stored order history, with its last ``--holdout``
days held out, and prints the MASE against the naive and seasonal naive forecasts per
demand class and overall; it exits 1 when the forecast does not beat the naive one overall.
The database is ``DATABASE_URL`` (or ``oms dev``'s embedded one), as for ``oms migrate``.
Exit 2 when it cannot be used.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from oms.settings import Settings


def add_parser(sub: Any) -> None:
    insights = sub.add_parser(
        "insights", help="demand forecasts, replenishment lead times, the forecast's backtest"
    ).add_subparsers(dest="action", required=True)
    forecast = insights.add_parser("forecast", help="run the nightly forecast now")
    forecast.add_argument("--date", help="the run day, YYYY-MM-DD (UTC; today by default)")
    forecast.add_argument("--json", action="store_true", help="the figures as JSON")
    backtest = insights.add_parser(
        "backtest", help="the forecast against naive forecasts on held-out days"
    )
    backtest.add_argument("--skus", type=int, default=500, help="SKUs generated (500)")
    backtest.add_argument("--days", type=int, default=364, help="days of history (364)")
    backtest.add_argument("--seed", type=int, default=7, help="the generator's seed (7)")
    backtest.add_argument("--holdout", type=int, default=28, help="days held out (28)")
    backtest.add_argument(
        "--from-db", action="store_true", help="the stored order history (--days of it)"
    )
    lead = insights.add_parser(
        "lead-time", help="set a warehouse's (or one SKU's) lead time, review, service level"
    )
    lead.add_argument("warehouse")
    lead.add_argument("--sku", default="", help="one SKU (the warehouse's default without)")
    lead.add_argument("--days", type=int, help="lead time in days")
    lead.add_argument("--review-days", type=int, help="days between two reviews")
    lead.add_argument("--service-level", type=float, help="e.g. 0.95")
    shown = insights.add_parser("lead-times", help="the lead times set")
    shown.add_argument("--warehouse")


class CommandError(RuntimeError):
    """A wrong argument: a message, exit 1."""


def _run_date(text: str | None) -> date:
    if not text:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--date {text!r} is not a day (YYYY-MM-DD)") from exc


def _check_policy(args: argparse.Namespace) -> None:
    if args.days is None and args.review_days is None and args.service_level is None:
        raise CommandError("give --days, --review-days or --service-level")
    for name, value in (("--days", args.days), ("--review-days", args.review_days)):
        if value is not None and not 0 <= value <= 365:
            raise CommandError(f"{name} is 0 to 365 days")
    if args.service_level is not None and not 0.5 <= args.service_level < 1:
        raise CommandError("--service-level is at least 0.5 and below 1 (0.95: 95 %)")


def _backtest_generated(args: argparse.Namespace) -> str:
    from oms.insights.backtest import backtest, render, synthetic

    if args.skus < 1 or args.days <= args.holdout + 7:
        raise CommandError("--skus at least 1, and --days more than --holdout + 7")
    history = synthetic(args.skus, args.days, args.seed)
    report = backtest(history.units, args.holdout)
    args.passed = (report.overall.mase_naive or 0) < 1
    return render(report)


async def _backtest_stored(engine: Any, args: argparse.Namespace) -> str:
    from oms.insights.backtest import backtest, render
    from oms.insights.run import series_matrix
    from oms.store import insights as store

    today = datetime.now(UTC).date()
    first = today - timedelta(days=args.days)
    since = datetime.combine(first, datetime.min.time(), tzinfo=UTC)
    until = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    async with engine.connect() as conn:
        rows = await store.demand_by_sku(conn, since, until)
    keys, units = series_matrix(
        ((("", r.sku), r.day, float(r.units)) for r in rows), first, args.days
    )
    if not keys:
        raise CommandError(f"no orders in the {args.days} days before today")
    if args.days <= args.holdout + 7:
        raise CommandError("--days more than --holdout + 7")
    report = backtest(units, args.holdout)
    args.passed = (report.overall.mase_naive or 0) < 1
    return render(report)


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy.exc import DBAPIError

    from oms.db.engine import make_engine
    from oms.db.migrate import migrate

    if args.action == "backtest" and not args.from_db:
        try:
            print(_backtest_generated(args))
        except CommandError as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 1
        return 0 if args.passed else 1
    engine = make_engine(settings, pool_size=2)
    try:
        await migrate(engine)
        if args.action == "forecast":
            from oms.alerts import AlertStore
            from oms.insights.run import run_forecast

            alerts = AlertStore(engine, settings.alert_webhook_url, settings.alert_webhook_secret)
            result = await run_forecast(engine, settings, _run_date(args.date), alerts)
            if args.json:
                print(json.dumps(asdict(result), indent=2))
            else:
                classes = ", ".join(f"{k} {v}" for k, v in sorted(result.classes.items()))
                print(
                    f"forecast of {result.run_date}: {result.skus} SKUs ({classes or 'none'}) "
                    f"and {result.pairs} warehouse-SKU pairs in {result.seconds:.2f} s; "
                    f"{result.stockout_risks} stock-out risks (alerted), "
                    f"{result.reorders} to reorder"
                )
        elif args.action == "backtest":
            print(await _backtest_stored(engine, args))
            return 0 if args.passed else 1
        elif args.action == "lead-time":
            from oms.store import insights as store

            _check_policy(args)
            row = await store.set_replenishment(
                engine,
                args.warehouse,
                args.sku,
                args.days,
                args.review_days,
                args.service_level,
                by="oms insights",
            )
            print(_setting_line(row))
        else:
            from oms.store import insights as store

            rows = await store.replenishment_settings(engine, args.warehouse)
            for row in rows:
                print(_setting_line(row))
            if not rows:
                print(
                    f"none set: every warehouse uses {settings.replenish_lead_time_days} days "
                    f"of lead time, {settings.replenish_review_days} of review, "
                    f"{settings.replenish_service_level:.0%} service (OMS_REPLENISH_*)"
                )
    except CommandError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    except (OSError, ConnectionError, DBAPIError) as exc:
        sys.stderr.write(f"error: the database cannot be used: {str(exc)[:300]}\n")
        return 2
    finally:
        await engine.dispose()
    return 0


def _setting_line(row: Any) -> str:
    def shown(value: Any, unit: str = "") -> str:
        return "default" if value is None else f"{value}{unit}"

    return (
        f"{row.warehouse_id} {row.sku or '(every SKU)'}: lead time "
        f"{shown(row.lead_time_days, ' d')}, review {shown(row.review_days, ' d')}, "
        f"service level {shown(row.service_level)} (by {row.updated_by})"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    from oms.logging import configure_logging

    configure_logging(settings.log_format, settings.log_level)  # to stderr: stdout is ours
    return asyncio.run(_run(args, settings))
