"""The conversation (engine, flows, normalisers, validators), driven through signed LINE webhooks."""
