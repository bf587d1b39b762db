"""The one error tree: every exception class the service defines derives from ``storage.errors.ServiceError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import bot
import handlers
import storage
from storage.errors import Misconfigured, Refused, ServiceError, Unavailable

# The fake LINE API stands in for LINE's own errors, not ours.
FOREIGN = {"handlers.emulator.line_api_fake", "handlers.emulator.line_schema"}


def _our_exceptions() -> list[type[BaseException]]:
    found = []
    for package in (bot, storage, handlers):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if info.name in FOREIGN or ".migrations" in info.name:
                continue
            module = importlib.import_module(info.name)
            found += [obj for _name, obj in inspect.getmembers(module, inspect.isclass)
                      if issubclass(obj, BaseException) and obj.__module__ == info.name]
    return found


def test_every_error_the_service_raises_on_purpose_is_in_the_tree():
    strays = [f"{cls.__module__}.{cls.__name__}" for cls in _our_exceptions()
              if not issubclass(cls, ServiceError) and not cls.__name__.startswith("_")]
    assert strays == []


@pytest.mark.parametrize(("name", "branch"), [
    ("storage.redis_client.StateUnavailable", Unavailable), ("storage.events.QueueFull", Unavailable),
    ("handlers.mail.MailError", Unavailable), ("handlers.line.turn.Transient", Unavailable),
    ("bot.errors.InvalidInput", Refused), ("storage.accounts.LoginIdTaken", Refused),
    ("handlers.cli.csv_table.ImportFailed", Refused), ("app.ConfigError", Misconfigured),
    ("storage.redis_url.RedisUrlError", ValueError),  # still what callers that parse URLs catch
])
def test_each_branch_means_one_thing(name, branch):
    module, _, cls = name.rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), cls), branch)
