"""Our labelled phrasings, stored already analysed, so a process loads them in milliseconds.

The reader ranks against about 3,600 customer phrasings of our own (``data/intent_examples.csv``
and ``data/faq_phrasings.csv``). Analysing them all at start-up (SudachiPy and the lexicon)
would cost most of a second of CPU in every web and worker process; ``data/analysed.json``
keeps what ranking needs of each (its core, reading, words and concepts), with a fingerprint
of the code and dictionary that produced it. When the fingerprint does not match (the lexicon
changed and the file was not rewritten) every text is analysed afresh, correct but slower, and a
warning says so; ``tests/understanding`` fails until ``python -m bench understanding
--write-analysed`` has rewritten the file.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from bot.understanding.analysis import Analysis, analyse

log = logging.getLogger(__name__)

HERE = Path(__file__).parent
ANALYSED_FILE = HERE / "data" / "analysed.json"
# The code an analysis depends on: a change to any of them makes the stored analyses stale.
SOURCES = ("analysis.py", "analyzer.py", "lexicon.py", "faq_words.py", "spotting.py", "text.py", "months.py")


def fingerprint() -> str:
    """A hash of the analysing code and the analyser's versions."""
    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update((HERE / name).read_bytes())
    for package in ("SudachiPy", "SudachiDict-core"):
        digest.update(metadata.version(package).encode())
    return digest.hexdigest()[:16]


@functools.cache
def _stored() -> dict[str, Analysis]:
    try:
        data = json.loads(ANALYSED_FILE.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    if data.get("fingerprint") != fingerprint():
        log.warning("stored analyses are stale (the lexicon changed): analysing the labelled phrasings afresh")
        return {}
    return {text: Analysis(core, core, (), tuple(terms), frozenset(concepts), None, reading)
            for text, (core, reading, terms, concepts) in data["analyses"].items()}


def analysed(text: str) -> Analysis:
    """The analysis of one of our labelled phrasings, from the store when it is fresh."""
    found = _stored().get(text)
    return found if found is not None else analyse(text)


def write(texts: Iterable[str], path: Path = ANALYSED_FILE) -> int:
    """Store the analyses of ``texts`` (``python -m bench understanding --write-analysed``)."""
    analyses = {}
    for text in dict.fromkeys(texts):
        a = analyse(text)
        analyses[text] = [a.core, a.reading, list(a.terms), sorted(a.concepts)]
    path.write_text(json.dumps({"fingerprint": fingerprint(), "analyses": analyses}, ensure_ascii=False,
                               separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8")
    _stored.cache_clear()
    return len(analyses)
