"""The web edge: the My Page, the 本登録 page, reminders, in a test client."""
