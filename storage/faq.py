"""The FAQ set (``FaqEntry``, ``FaqSet``) and what customers asked that nothing answered (``FaqMiss``).

The set is replaced whole by each ``flask import-faq`` (``replace_all``), in one transaction
that also bumps its version: readers see either the old set or the new one, never a mix, and
a reader that keeps the entries in memory asks ``current_version`` (one primary-key lookup)
to know when to ``load`` them again. Version 0 means no FAQ was ever imported.

A miss (``record_miss``) is one message that nothing answered (``not_understood``) or that was
answered with low confidence (``low_confidence``), with the nearest entry and its score; the
text is masked by the caller (no customer number, phone or address) and cut to 200
characters. ``faq misses`` reads them grouped (``misses``); the ``faq_misses`` retention rule
deletes them after ``RETENTION_FAQ_MISS_DAYS`` (default 90). Nothing here logs a miss's text.

Times are written and compared as Asia/Tokyo (``storage.bills.tokyo``): SQLite keeps only the
wall time.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage import retention
from storage.bills import aware, tokyo
from storage.models import FaqEntry, FaqMiss, FaqSet

SET_ID = 1  # the single faq_sets row
NOT_UNDERSTOOD = "not_understood"
LOW_CONFIDENCE = "low_confidence"
OUTCOMES = (NOT_UNDERSTOOD, LOW_CONFIDENCE)
MAX_MISS_TEXT = 200
MAX_ENTRY_ID = 64


@dataclass(frozen=True)
class FaqRow:
    """One FAQ entry as the file gives it and the bot reads it.

    ``link`` is an absolute http(s) URL, or a path starting with ``/`` that the bot puts
    after ``PUBLIC_BASE_URL``; ``examples`` are other ways customers ask the question.
    """

    id: str
    question: str
    answer: str
    examples: tuple[str, ...] = ()
    link: str | None = None


@dataclass(frozen=True)
class MissSummary:
    """Misses of one (text, outcome): how many, the last one's time (Asia/Tokyo) and nearest entry."""

    text: str
    outcome: str
    count: int
    last_seen: datetime
    best_entry: str | None


def current_version(session: Session) -> int:
    """The version of the FAQ set in use; 0 when none was ever imported."""
    return session.scalar(select(FaqSet.version).where(FaqSet.id == SET_ID)) or 0


def load(session: Session) -> tuple[int, list[FaqRow]]:
    """The version and the entries in file order, read in one statement (so they agree)."""
    rows = session.execute(
        select(FaqSet.version, FaqEntry.entry_id, FaqEntry.question, FaqEntry.answer, FaqEntry.examples,
               FaqEntry.link)
        .select_from(FaqSet).outerjoin(FaqEntry, true())
        .where(FaqSet.id == SET_ID)
        .order_by(FaqEntry.position)
    ).all()
    if not rows:
        return 0, []
    entries = [FaqRow(entry_id, question, answer, tuple(json.loads(examples)), link)
               for _version, entry_id, question, answer, examples, link in rows if entry_id is not None]
    return rows[0][0], entries


def lending(session: Session) -> str | None:
    """The lending plan stored with the set in use (``replace_all``), or None."""
    return session.scalar(select(FaqSet.lending).where(FaqSet.id == SET_ID))


def replace_all(session: Session, rows: Sequence[FaqRow], now: datetime, lending: str | None = None) -> int:
    """Replace every entry with ``rows`` (in their order) and bump the version; the new version.
    ``lending``: the plan of the customer phrasings the entries borrow, kept with the set.

    Never commits. Two imports at once run one after the other: the set row is created if
    missing (an insert that ignores a conflict) and then updated, which locks it until the
    transaction ends, before any entry is touched; the later import wins whole.
    """
    now = tokyo(now)
    dialect_insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(dialect_insert(FaqSet)
                    .values(id=SET_ID, version=0, imported_at=now, entry_count=0)
                    .on_conflict_do_nothing(index_elements=["id"]))
    version = session.execute(
        update(FaqSet).where(FaqSet.id == SET_ID)
        .values(version=FaqSet.version + 1, imported_at=now, entry_count=len(rows), lending=lending)
        .returning(FaqSet.version)
    ).scalar_one()
    session.execute(delete(FaqEntry))
    if rows:
        session.execute(insert(FaqEntry), [
            {"entry_id": row.id, "position": position, "question": row.question, "answer": row.answer,
             "examples": json.dumps(list(row.examples), ensure_ascii=False), "link": row.link}
            for position, row in enumerate(rows, start=1)
        ])
    return version


def record_miss(session: Session, text: str, outcome: str, best_entry: str | None, score: float,
                now: datetime) -> None:
    """Note one message nothing answered well; ``text`` must be masked already (cut to 200 characters)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    session.execute(insert(FaqMiss).values(
        text=text.replace("\x00", "")[:MAX_MISS_TEXT],  # PostgreSQL refuses NUL in text
        outcome=outcome,
        best_entry=best_entry[:MAX_ENTRY_ID] if best_entry else None,
        score=float(score),
        created_at=tokyo(now),
    ))


def misses(session: Session, *, limit: int = 50, since: datetime | None = None) -> list[MissSummary]:
    """Misses grouped by (text, outcome), most frequent first, then most recent; ``best_entry``
    is the latest miss's (the FAQ may have changed since the earlier ones)."""
    partition = (FaqMiss.text, FaqMiss.outcome)
    ranked = select(
        FaqMiss.text, FaqMiss.outcome, FaqMiss.best_entry, FaqMiss.created_at,
        func.count().over(partition_by=partition).label("count"),
        func.row_number().over(partition_by=partition,
                               order_by=(FaqMiss.created_at.desc(), FaqMiss.id.desc())).label("rank"),
    )
    if since is not None:
        ranked = ranked.where(FaqMiss.created_at >= tokyo(since))
    latest = ranked.subquery()
    rows = session.execute(
        select(latest.c.text, latest.c.outcome, latest.c.count, latest.c.created_at, latest.c.best_entry)
        .where(latest.c.rank == 1)
        .order_by(latest.c.count.desc(), latest.c.created_at.desc(), latest.c.text, latest.c.outcome)
        .limit(limit)
    )
    return [MissSummary(text, outcome, int(count), tokyo(aware(last_seen)), best_entry)
            for text, outcome, count, last_seen, best_entry in rows]


@retention.rule("faq_misses", setting="RETENTION_FAQ_MISS_DAYS", default_days=90,
                description="what customers wrote that no FAQ entry answered well")
def purge_misses(session: Session, now: datetime, keep: timedelta) -> int:
    """Misses older than the period: they serve only to improve the FAQ."""
    return session.execute(delete(FaqMiss).where(FaqMiss.created_at < tokyo(now) - keep)).rowcount
