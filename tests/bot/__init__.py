"""The conversation (engine, flows, normalisers, validators). Its tests talk to ``Engine.handle``
through ``tests.chat_driver.ChatUser`` (the real Redis and database, no HTTP, webhook or fake LINE);
the few that are about LINE itself (account link, link tokens, pushes) keep ``LineUser``."""
