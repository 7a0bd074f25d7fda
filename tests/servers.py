"""A real gunicorn server for the race tests and the benchmarks (no pytest in here).

The listening socket is bound to a free port of 127.0.0.1 here and handed to gunicorn as
`fd://N`, so the port is known before the server starts and nothing else can take it
meanwhile. The server always stops: SIGTERM, a bounded wait, then SIGKILL to its own
process group (the master and its workers, started in a session of their own).
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

# Settings of the developer's shell that must not leak into a server under test.
_APP_VARIABLES = ("APP_CONFIG", "DATABASE_URL", "INSTANCE_PATH", "SECRET_KEY",
                  "CARD_SIGNING_KEYS", "CARD_HASH_KEY", "RATELIMIT_STORAGE_URI",
                  "PUBLIC_BASE_URL", "GUNICORN_CMD_ARGS", "WEB_CONCURRENCY")


@dataclass(frozen=True)
class Server:
    port: int
    process: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def stop(process: subprocess.Popen, timeout: float = 15) -> None:
    """Stop a server started by `gunicorn`: gracefully, then by force."""
    if process.poll() is None:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
    # The master may be gone while a worker lingers: the group is ours alone.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)


@contextmanager
def gunicorn(env: Mapping[str, str], log: Path, *, workers: int = 3,
             worker_class: str = "sync", threads: int = 1,
             startup_timeout: float = 60) -> Iterator[Server]:
    """Serve `wsgi:app` with gunicorn on a free port of 127.0.0.1 until the block ends.

    `env` configures the app (DATABASE_URL, INSTANCE_PATH, SECRET_KEY...); the server's
    output goes to `log`. Raises RuntimeError when it does not answer `GET /healthz` in time.
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((HOST, 0))
    listener.listen(2048)
    port = listener.getsockname()[1]
    listener.set_inheritable(True)
    command = [sys.executable, "-m", "gunicorn", "--bind", f"fd://{listener.fileno()}",
               "--workers", str(workers), "--worker-class", worker_class,
               "--threads", str(threads), "--timeout", "60", "--graceful-timeout", "5",
               "--log-level", "warning", "wsgi:app"]
    base = {k: v for k, v in os.environ.items() if k not in _APP_VARIABLES}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as output:
        process = subprocess.Popen(command, cwd=ROOT, env={**base, **env}, stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   pass_fds=(listener.fileno(),), start_new_session=True)
    listener.close()
    server = Server(port=port, process=process, log=log)
    try:
        deadline = time.monotonic() + startup_timeout
        while not _answers(port):
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({process.returncode}):\n"
                                   + server.log_tail())
            if time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not answer in time:\n" + server.log_tail())
            time.sleep(0.1)
        yield server
    finally:
        stop(process)


def post_json(port: int, path: str, body: Any, timeout: float = 30) -> tuple[int, Any]:
    """POST a JSON body to the server on 127.0.0.1; the status and the decoded answer."""
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request("POST", path, body=json.dumps(body).encode(),
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, _decoded(response.read())
    finally:
        connection.close()


def _decoded(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")[:500]


def race_client(port: int, path: str, body: Any, start: Any, results: Any,
                timeout: float = 30) -> None:
    """One racer, run in a process of its own: wait for the others at `start` (a
    multiprocessing Barrier), POST, and put (status, answer) on `results` (status None and
    the exception's text when the request failed).

    It connects only once released: a server may drop a connection that stays silent (the
    gthread worker after its keep-alive time), and starting the racers can take that long.
    """
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        payload = json.dumps(body).encode()
        start.wait(timeout=timeout)
        connection.request("POST", path, body=payload,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        results.put((response.status, _decoded(response.read())))
    except Exception as error:  # noqa: BLE001  (reported to the test, which fails on it)
        results.put((None, repr(error)))
    finally:
        connection.close()
