"""Lame-duck mode's switch: the drain file is looked for at most every interval, and once
seen the mode stays on."""

from __future__ import annotations

from pathlib import Path

from forumdb_services.api.lameduck import LameDuck


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_no_drain_file_configured_is_never_on(tmp_path: Path) -> None:
    assert LameDuck(None).on() is False


def test_the_file_is_looked_for_at_most_every_interval_and_stays_on(tmp_path: Path) -> None:
    drain = tmp_path / "draining"
    clock = Clock()
    duck = LameDuck(drain, clock=clock, interval=0.5)
    assert duck.on() is False
    drain.touch()
    assert duck.on() is False  # not looked for again within the interval
    clock.now += 0.49
    assert duck.on() is False
    clock.now += 0.01
    assert duck.on() is True
    drain.unlink()  # a stop is final: the pod is going away
    clock.now += 10
    assert duck.on() is True
