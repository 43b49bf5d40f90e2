"""What the race tests share: a migrated database of each test module's own, for its servers
and its trials. The harness itself (requests released together, the invariants) is in
``tests.support.races``; the servers and browsers in ``tests.support.live``."""

from __future__ import annotations

import pytest

from tests.support import databases


@pytest.fixture(scope="module")
def live_db(request, tmp_path_factory):
    """A freshly migrated database (a SQLite file, or a PostgreSQL database of its own) named
    after the test module, dropped once the module is done."""
    label = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    url = databases.new_database(label, tmp_path_factory.mktemp(label))
    databases.migrate(url)
    yield url
    databases.drop_database(url)
