"""The edges: each package translates between one outside party and the conversation.

``line/`` (LINE's webhook and Messaging API), ``web/`` (the My Page and the 本登録 page),
``emulator/`` (the local LINE stand-in), ``cli/`` (operator commands and CSV imports);
``jobs`` (the queue, knowing no job bodies) and ``mail`` (SMTP) are shared by them.
Arrows: ``app.py`` → ``handlers/*`` → ``bot/`` → ``storage/``; one edge never imports
another except through ``bot/``, ``storage/`` or the queue (a job queued by its path).
"""
