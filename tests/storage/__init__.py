"""Storage: the migrations against the models, on SQLite and PostgreSQL."""
