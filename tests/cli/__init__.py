"""The operator's commands: CSV imports and demo data."""
