"""The web tests run on PostgreSQL and on SQLite, the embedded database ``make run`` starts with."""

import pytest

from tests.conftest import DATABASES, both_databases


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request, tmp_path_factory):
    yield from both_databases(request, tmp_path_factory)
