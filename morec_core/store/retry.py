"""Riding out a database server that went away: a PostgreSQL restart or failover, a network
blip. The store's writes and Optuna's storage calls are retried with backoff for a bounded time
(`MOREC_STORE_RETRY_S`, 120 s by default) before the worker gives up with one line.

Only server databases: SQLite has no connection to lose, and its lock waits are busy_timeout's.

What is retried is safe to run again. A write whose transaction never committed (the usual case:
the pool's pre-ping finds the connection dead, or the server drops it mid-transaction) rolled
back. The store's writes are upserts (one event's row fields and metrics set again), so even a
commit whose acknowledgement was lost is harmless. Optuna's trial writes are under the study's
trials lock and re-read their state; a new trial whose commit was acknowledged to nobody is the
one case that could appear twice, and the claim protocol's recovery settles it as any orphan.
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError

from morec_core.store.engine import StoreError

T = TypeVar("T")

RETRY_ENV = "MOREC_STORE_RETRY_S"
DEFAULT_RETRY_S = 120.0
"""Enough for a PostgreSQL restart (tens of seconds) or a managed failover (about a minute)."""
FIRST_WAIT_S = 0.5
LONGEST_WAIT_S = 10.0


class StoreUnreachableError(StoreError):
    """The server stayed away for longer than the retry bound: one line naming the store."""


def retry_bound_s() -> float:
    """`MOREC_STORE_RETRY_S` (seconds, 0 disables retrying), else DEFAULT_RETRY_S."""
    text = os.environ.get(RETRY_ENV, "").strip()
    if not text:
        return DEFAULT_RETRY_S
    try:
        value = float(text)
    except ValueError:
        raise StoreUnreachableError(
            f"{RETRY_ENV}={text!r} is not a number of seconds") from None
    if not 0 <= value <= 86_400:
        raise StoreUnreachableError(f"{RETRY_ENV}={text!r} is not between 0 and 86400 seconds")
    return value


def is_disconnect(error: BaseException) -> bool:
    """A lost or refused connection, anywhere in the chain of causes (Optuna wraps SQLAlchemy's
    errors in its StorageInternalError). An error of the statement itself (a constraint, bad
    SQL) is no disconnect and is never retried."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, StoreUnreachableError):
            return False  # an inner retry already waited its bound: no second wait around it
        if isinstance(current, DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, OperationalError):
            return True
        current = current.__cause__ or current.__context__
    return False


def short_reason(error: BaseException) -> str:
    """The driver's first line (psycopg's messages run over several)."""
    original = getattr(error, "orig", None) or error.__cause__ or error
    lines = [line.strip() for line in str(original).splitlines() if line.strip()]
    return lines[0][:200] if lines else type(original).__name__


def retrying(operation: Callable[[], T], *, where: str, what: str,
             bound_s: float | None = None,
             sleep: Callable[[float], None] = time.sleep) -> T:
    """`operation()`, run again after a disconnect with doubling waits (0.5 s up to 10 s) until
    it succeeds or `bound_s` (default: retry_bound_s()) has passed since the first failure; then
    StoreUnreachableError. Each wait is one line on stderr (a worker's log)."""
    bound = retry_bound_s() if bound_s is None else bound_s
    first_failure: float | None = None
    wait_s = FIRST_WAIT_S
    while True:
        try:
            return operation()
        except Exception as error:
            if not is_disconnect(error):
                raise
            now = time.monotonic()
            first_failure = now if first_failure is None else first_failure
            waited = now - first_failure
            if waited + wait_s > bound:
                raise StoreUnreachableError(
                    f"store {where} unreachable for {waited:.0f} s while {what} "
                    f"({short_reason(error)}); gave up after {RETRY_ENV}={bound:g} s") from None
            print(f"store {where}: connection lost while {what} ({short_reason(error)}); "
                  f"retrying in {wait_s:g} s (for up to {bound:g} s)", file=sys.stderr,
                  flush=True)
            sleep(wait_s)
            wait_s = min(2 * wait_s, LONGEST_WAIT_S)


def retry_methods(cls: type, names: tuple[str, ...]) -> None:
    """Wrap each named method of `cls` (the Store) in `retrying` where the instance's database
    is a server (`is_sqlite` false); `where` names it in the lines."""
    for name in names:
        setattr(cls, name, _retried(name, getattr(cls, name)))


def _retried(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.is_sqlite:
            return method(self, *args, **kwargs)
        return retrying(lambda: method(self, *args, **kwargs), where=self.where,
                        what=name.replace("_", " "))

    return wrapper
