"""What crosses Temporal for a pull channel: the ``channel.pull`` workflow's input and the
``pull_channel`` activity's result."""

from __future__ import annotations

from dataclasses import dataclass

from oms.domain.annotations import resolve_annotations


@dataclass
class PullRequest:
    channel: str  # the channel's name


@dataclass
class PullResult:
    windows: int = 0  # windows read to the end, their orders all taken
    taken: int = 0  # orders handed to the intake (a window read again counts again)
    cursor: str | None = None  # the cursor afterwards (RFC 3339), None before any pull
    more: bool = False  # windows ready to read were left for the next run
    # Why nothing was pulled: "unknown_channel", "disabled", "not_pull"; None otherwise.
    skipped: str | None = None
    # Orders read that the OMS cannot take (each one alerted: channel_order_invalid).
    invalid: int = 0
    # Why the pull stopped before the windows ready: "backlog_full" (the work waiting is
    # at OMS_BACKLOG_LIMIT; the next run of the Schedule tries again); None otherwise.
    deferred: str | None = None


resolve_annotations(globals())
