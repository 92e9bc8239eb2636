"""Which backordered orders the waker signals when stock arrives."""

import pytest

from oms.settings import Settings, SettingsError
from worker.backorder_waker import to_wake


def test_the_orders_at_the_head_of_the_queue_are_woken_as_far_as_the_units_go() -> None:
    queue = [("A", "o1", 2), ("A", "o2", 1), ("A", "o3", 1)]
    assert to_wake(queue, {"A": 0}) == []
    assert to_wake(queue, {"A": 1}) == ["o1"]  # o1 takes its turn first, even short
    assert to_wake(queue, {"A": 2}) == ["o1"]
    assert to_wake(queue, {"A": 3}) == ["o1", "o2"]
    assert to_wake(queue, {"A": 10}) == ["o1", "o2", "o3"]


def test_each_order_is_woken_once_whatever_number_of_skus_it_waits_for() -> None:
    queue = [("A", "o1", 1), ("A", "o2", 1), ("B", "o2", 1), ("B", "o1", 1)]
    assert to_wake(queue, {"A": 2, "B": 1}) == ["o1", "o2"]
    assert to_wake(queue, {"B": 1}) == ["o2"]  # o2 is first in B's queue


def test_the_listener_connects_with_the_plain_postgresql_scheme() -> None:
    url = "postgresql+asyncpg://u:p@127.0.0.1:5432/oms"
    assert Settings(database_url=url).listen_dsn() == "postgresql://u:p@127.0.0.1:5432/oms"


def test_behind_a_transaction_pooler_the_listener_needs_a_direct_url_of_its_own() -> None:
    pooled = "postgresql://u:p@pgbouncer:6432/oms"
    with pytest.raises(SettingsError, match="OMS_LISTEN_DATABASE_URL"):
        Settings(database_url=pooled, database_pooler="transaction").listen_dsn()
    direct = Settings(
        database_url=pooled,
        database_pooler="transaction",
        listen_database_url="postgresql+asyncpg://u:p@postgres:5432/oms",
    )
    assert direct.listen_dsn() == "postgresql://u:p@postgres:5432/oms"
    with pytest.raises(SettingsError, match="postgresql://"):
        Settings(database_url=pooled, listen_database_url="mysql://x/y").listen_dsn()
