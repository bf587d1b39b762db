"""The emulator edge: its page and API, its fake LINE's OpenAPI validation, and the browser tests."""
