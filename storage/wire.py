"""Redis commands written as one packet and their answers read back, without redis-py's pipeline.

Every LINE event makes the same few round trips to Redis (the webhook's enqueue; the
worker's read, lock and conversation, and end of turn). redis-py's ``Pipeline`` object and
response callbacks cost about twice the round trip itself; ``send`` takes a connection from
the client's own pool (so Sentinel, passwords, timeouts and health checks are the client's),
packs the commands with redis-py's (hiredis') packer, and reads the raw answers.

Answers are as Redis sends them (bytes, integers, nested lists), an error answer comes back
in its place as redis-py's exception (``NoScriptError``, ``NoPermissionError``,
``ResponseError`` …) so the others are still read, and a broken connection is dropped and
raises ``redis.ConnectionError``/``TimeoutError``, not retried: every caller retries the
whole step (the event waits and is tried again, the webhook answers 503).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis


def send(client: redis.Redis, commands: Sequence[Sequence]) -> list:
    """Send ``commands`` (each a tuple: name, arguments…) in one write; their answers, in order."""
    pool = client.connection_pool
    connection = pool.get_connection()
    try:
        connection.send_packed_command(connection.pack_commands(commands))
        answers = []
        for _ in commands:
            try:
                answers.append(connection.read_response())
            except redis.ResponseError as error:
                answers.append(error)
        return answers
    except BaseException:
        connection.disconnect()  # half-read answers must not reach the next user of the connection
        raise
    finally:
        pool.release(connection)


def script(client: redis.Redis, registered, keys: Sequence, args: Sequence, *more: Sequence) -> list:
    """``send`` a registered Lua script (``client.register_script``) by its SHA, then ``more``
    commands; a Redis that forgot its scripts (restarted, flushed) gets it loaded and run
    again: a ``NOSCRIPT`` answer means the script did nothing."""
    answers = send(client, [("EVALSHA", registered.sha, len(keys), *keys, *args), *more])
    if isinstance(answers[0], redis.exceptions.NoScriptError):
        answers[0] = registered(keys=keys, args=args)
    return answers
