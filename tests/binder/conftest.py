"""The Binder environment test is slow: it is marked so it can be deselected."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "slow: builds an environment from scratch (minutes); deselect with "
        '-m "not slow"',
    )
