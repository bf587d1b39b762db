"""The FAQ in use in this process: fitted once per imported version, refreshed within seconds.

``import-faq`` replaces the set in the database and bumps its version. Every web and worker
process keeps one fitted ``FaqIndex``; on a message it asks the database for the version
(one primary-key read) at most every ``check_seconds``, and refits when it changed, so an
import is in effect everywhere within seconds, with no restart. Fitting (with the customer
phrasings each entry borrows: ``phrasings``) takes a few tenths of a second of CPU, once per
content in a process: which phrasings each entry borrows was worked out once, by the import, and
stored with the set (``faq_sets.lending``), so a process only reads it (a set imported by older
code, or a plan made for another bank, is worked out again, about a second). ``fitted``: the same
entries again, in another app of the process or under a new version number, are not fitted twice.
A database error fails the turn like any other read (it is retried).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy.orm import Session

from bot.understanding.analysis import analyse
from bot.understanding.faq import FaqIndex
from bot.understanding.phrasings import fit
from bot.understanding.reader import intent_examples
from storage import faq as faq_store
from storage.faq import FaqRow

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0


@functools.lru_cache(maxsize=4)
def fitted(rows: tuple[FaqRow, ...], plan: str | None = None) -> FaqIndex:
    """The index of these entries, fitted once per process (an index is never changed once fitted), with
    the phrasings its entries borrow: as ``plan`` (stored by the import) says, when it was made for them."""
    return fit(rows, analyse, plan=plan)


class FaqLibrary:
    """One process's fitted FAQ index, kept in step with the database's version."""

    def __init__(self, check_seconds: float = CHECK_SECONDS, clock: Callable[[], float] = time.monotonic) -> None:
        self.check_seconds = check_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._index: FaqIndex | None = None
        self._version = -1
        self._checked_at = float("-inf")

    @property
    def version(self) -> int:
        """The version of the set the index was fitted on (-1 before the first load)."""
        return self._version

    def index(self, db: Session) -> FaqIndex:
        """The index to read with (refitted first when the database holds a newer set)."""
        now = self._clock()
        if self._index is not None and now - self._checked_at < self.check_seconds:
            return self._index
        with self._lock:
            if self._index is not None and now - self._checked_at < self.check_seconds:
                return self._index
            # A database error propagates: the turn fails as a whole and is retried, as any other read.
            version = faq_store.current_version(db)
            if version != self._version or self._index is None:
                version, rows = faq_store.load(db)
                self._index = fitted(tuple(rows), faq_store.lending(db))
                intent_examples()  # fitted once per process, here rather than in a customer's turn
                self._version = version
                log.info("FAQ version %d in use (%d entries)", version, len(rows))
            self._checked_at = now
            return self._index
