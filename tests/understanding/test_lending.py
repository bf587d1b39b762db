"""The lending plan ``import-faq`` stores: the same readings as lending worked out afresh, and a plan
made for other entries (or another bank, or other code) is not used."""

from __future__ import annotations

import json

import pytest

from bench.labelled import SETS, load_faq, load_labelled
from bot.understanding.analysis import analyse
from bot.understanding.phrasings import fit, read_plan, stored_plan
from bot.understanding.reader import read


@pytest.mark.parametrize("name", ["ours", "operator AS"])
def test_a_stored_plan_reads_every_phrasing_as_lending_worked_out_afresh(name):
    labelled, faq_file = SETS[name]
    entries = load_faq(faq_file)
    afresh, planned = fit(entries, analyse), fit(entries, analyse, plan=stored_plan(entries))
    for text, _expected in load_labelled(labelled):
        a, b = read(text, afresh), read(text, planned)
        assert (a.label(), a.score, [m.entry.id for m in a.matches]) == \
            (b.label(), b.score, [m.entry.id for m in b.matches]), text


def test_a_plan_made_for_other_entries_or_broken_is_not_used():
    ours = load_faq(SETS["ours"][1])
    plan = stored_plan(ours)
    assert read_plan(plan, ours)
    assert read_plan(plan, ours[:-1]) is None  # the set changed since
    assert read_plan(json.dumps({"key": "0" * 32, "plan": {}}), ours) is None  # another bank or code
    for broken in ("", "not json", "[]", '{"key": 1}'):
        assert read_plan(broken, ours) is None
