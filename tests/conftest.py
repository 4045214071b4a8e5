"""Suite-wide settings. Two cores are shared by pytest and the worker processes some tests
start: one intra-op thread each avoids oversubscription, where tiny torch ops slow down
by three orders of magnitude."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import pytest  # noqa: E402

POSTGRES_URL = os.environ.get("MOREC_TEST_POSTGRES_URL")
NO_POSTGRES = ("MOREC_TEST_POSTGRES_URL is not set (.ci/run starts a PostgreSQL server on "
               "127.0.0.1 and sets it)")


def empty_postgres() -> str:
    """The CI's PostgreSQL database (MOREC_TEST_POSTGRES_URL) emptied, for a test of its own;
    returns its URL."""
    from sqlalchemy import create_engine, text

    assert POSTGRES_URL, NO_POSTGRES
    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """One store test suite over every backend (as Optuna runs its storage tests): a fresh
    SQLite file, or the PostgreSQL database of .ci/run emptied for the test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'runs.db'}"
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    return empty_postgres()
