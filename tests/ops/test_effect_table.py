"""How the edges meet: the factory's one table gives every ``bot.types`` effect the job that performs it."""

from __future__ import annotations

import typing

from bot import types
from handlers import jobs


def test_every_effect_has_exactly_one_job(app):
    table = app.extensions["effect_jobs"]
    assert set(table) == set(typing.get_args(types.Effect))
    assert all(callable(jobs.resolve(path)) for path in table.values())


def test_the_staff_outbox_goes_where_someone_reads_it(make_app):
    plain = make_app(EMULATOR=False).extensions["effect_jobs"][types.StaffOutbox]
    emulator = make_app(EMULATOR=True).extensions["effect_jobs"][types.StaffOutbox]
    assert plain.endswith(":unseen_outbox_job") and emulator.endswith(":staff_pane_outbox_job")
