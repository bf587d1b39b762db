"""gunicorn settings for production: ``gunicorn -c gunicorn.conf.py 'app:create_app()'`` (docs/deployment.md).

Graceful shutdown: on SIGTERM gunicorn stops accepting, lets every worker finish the
request in hand (a webhook's turn) for up to ``graceful_timeout`` seconds, then exits; LINE
redelivers anything that got no answer. Prometheus multi-process metrics: set
``PROMETHEUS_MULTIPROC_DIR`` (a directory, the same for the web and the worker processes
of this host); when gunicorn starts, the files of processes that are gone are removed
(those of running workers stay), and each dead web worker's live files are dropped
(``child_exit``). Access-log redaction of link tokens is installed by
``create_app`` (``app.RedactTokens``); with ``LOG_FORMAT=json`` its lines are JSON too.
"""

import os
import shutil

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")  # the TLS proxy in front connects here
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))  # about 2 per core
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = 30  # a worker silent this long is killed and replaced (LINE gives a webhook a few seconds)
graceful_timeout = 30  # SIGTERM: time to finish the requests in hand
# Behind a proxy that reuses connections. Under 2 s: a request already sent on a connection of
# a worker that is being recycled waits up to this long, and LINE's deadline is 2 s (bench/load.py).
keepalive = 1
# Recycle workers now and then (a slow leak cannot grow for ever), rarely: each recycle costs the
# requests on its connections a wait; jitter avoids recycling all at once.
max_requests = 200_000
max_requests_jitter = 20_000
accesslog = "-"
errorlog = "-"
# The app honours X-Forwarded-* only through TRUSTED_PROXY_HOPS (ProxyFix); gunicorn itself trusts none.
forwarded_allow_ips = ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def on_starting(server):
    """Clear the multi-process metrics directory of processes that are gone (an earlier run's), so
    their values are not added in forever; files of live processes (the host's workers) stay."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        stem = name.rsplit(".", 1)[0]
        pid = stem.rsplit("_", 1)[-1]
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif not (pid.isdigit() and _alive(int(pid))):
            os.remove(path)


def child_exit(server, worker):
    """A worker exited: drop its live-gauge files (its counters stay in the sums)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
