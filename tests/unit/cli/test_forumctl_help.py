"""Every command's --help describes every option: -o/--output says what text and json give,
and an option that takes a duration names its unit."""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest
from conftest import forumctl

from forumctl.main import cli

# Options whose value is a time span: their help must say in what unit.
DURATION = re.compile(r"timeout|interval|-age$")
UNIT = re.compile(r"\b(seconds?|minutes?|hours?|days?|ms|s|h)\b", re.IGNORECASE)


def _commands(cmd: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _commands(sub, (*path, name))


def _command(path: tuple[str, ...]) -> click.Command:
    cmd: click.Command = cli
    for name in path:
        assert isinstance(cmd, click.Group)
        cmd = cmd.commands[name]
    return cmd


COMMANDS = [p for p in _commands(cli) if p]
# Every command a user runs (not the groups, whose --help only lists commands)
LEAVES = [p for p in COMMANDS if not isinstance(_command(p), click.Group)]


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(p) for p in LEAVES}
    assert {"failover", "backup", "restore-drill", "tables create", "dev up"} <= names


@pytest.mark.parametrize("path", LEAVES, ids=[" ".join(p) for p in LEAVES])
def test_every_option_is_described(path: tuple[str, ...]) -> None:
    bare = [
        "/".join(p.opts + p.secondary_opts)
        for p in _command(path).params
        if isinstance(p, click.Option) and not (p.help or "").strip()
    ]
    assert bare == [], f"forumctl {' '.join(path)}: options without help"


@pytest.mark.parametrize("path", LEAVES, ids=[" ".join(p) for p in LEAVES])
def test_durations_name_their_unit(path: tuple[str, ...]) -> None:
    unitless = [
        f"{p.opts[0]}: {p.help!r}"
        for p in _command(path).params
        if isinstance(p, click.Option)
        and any(DURATION.search(o) for o in p.opts)
        and not UNIT.search(p.help or "")
    ]
    assert unitless == [], f"forumctl {' '.join(path)}"


@pytest.mark.parametrize("path", LEAVES, ids=[" ".join(p) for p in LEAVES])
def test_output_option_is_described_in_help(path: tuple[str, ...]) -> None:
    text = forumctl(*path, "--help").stdout
    flat = " ".join(text.split())  # the help column wraps
    assert "-o, --output [text|json]" in flat
    assert "text: tables for humans; json: one JSON document on stdout for machines." in flat
