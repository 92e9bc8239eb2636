"""The worker's metrics address: process i of several serves on the configured port + i."""

from __future__ import annotations

import pytest

from oms.temporal_client import metrics_address


def test_process_i_serves_on_the_port_plus_i() -> None:
    assert metrics_address("127.0.0.1:9464") == "127.0.0.1:9464"
    assert metrics_address("127.0.0.1:9464", 3) == "127.0.0.1:9467"
    assert metrics_address("0.0.0.0:9000", 1) == "0.0.0.0:9001"
    assert metrics_address("[::1]:9464", 1) == "[::1]:9465"


@pytest.mark.parametrize("bad", ["9464", "localhost", ":9464", "host:port", "host:65535x"])
def test_an_address_without_a_host_and_port_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="host:port"):
        metrics_address(bad)


def test_a_port_past_the_last_is_refused() -> None:
    with pytest.raises(ValueError):
        metrics_address("127.0.0.1:65535", 1)
