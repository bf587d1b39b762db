"""Persistence: typed SQLAlchemy models and repositories, Alembic migrations, Redis state."""
