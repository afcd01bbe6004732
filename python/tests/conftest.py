"""Shared fixtures: every test gets its own store directory under pytest's tmp_path."""

import pytest

import recstore


@pytest.fixture
def store_dir(tmp_path):
    return tmp_path / "store"


@pytest.fixture
def store(store_dir):
    with recstore.Store(store_dir) as opened:
        yield opened
