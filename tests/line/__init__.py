"""The LINE edge: the webhook, dedup, replies, pushes, jobs and mail on the wire."""
