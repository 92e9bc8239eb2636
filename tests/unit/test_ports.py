"""Ports handed to test systems lie below the ephemeral range, so an outgoing connection
elsewhere on the machine cannot take one between choosing it and listening on it."""

from __future__ import annotations

import socket

from devtools.ports import ephemeral_floor, free_port
from oms.ports import port_in_use


def test_free_ports_lie_below_the_ephemeral_range_and_are_never_handed_out_twice() -> None:
    ports = [free_port() for _ in range(50)]
    assert len(set(ports)) == len(ports)
    if ephemeral_floor() - 1 > 20000:  # else the range leaves no room and bind(0) answers
        assert all(20000 <= port < ephemeral_floor() for port in ports)


def test_a_free_port_can_be_listened_on_and_then_reads_as_in_use() -> None:
    port = free_port()
    assert not port_in_use("127.0.0.1", port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", port))
        sock.listen()
        assert port_in_use("127.0.0.1", port)
