"""The edges: LINE webhook, web pages, commands, jobs, mail and the local emulator."""
