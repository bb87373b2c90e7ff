"""Loading the CA bundle off a one-shot command's critical path.

An SSL context parses ~150 CA certificates (~15 ms), and OpenSSL does that without holding
the GIL, so `balancebot check` loads it on a thread while it reads its configuration.
httpx is imported first, on the calling thread, so the two threads never import a module
at the same time; the thread only runs `httpx.create_ssl_context`, httpx's own default.
"""

from __future__ import annotations

import ssl
from concurrent.futures import Future, ThreadPoolExecutor

import certifi  # noqa: F401 - imported here so the loading thread imports nothing
import httpx


def load_in_background() -> Future[ssl.SSLContext]:
    """The context httpx would build (SSL_CERT_FILE/SSL_CERT_DIR, else certifi)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tls")
    try:
        return pool.submit(httpx.create_ssl_context)
    finally:
        pool.shutdown(wait=False)  # the thread finishes its one job; exit joins it
