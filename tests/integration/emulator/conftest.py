"""The emulator's fixtures (in-process and through a server): tests/harness/emulator_fixtures.py."""

from harness.emulator_fixtures import *  # noqa: F403
