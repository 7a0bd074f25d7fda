"""Ballots per second through the JSON API under gunicorn, next to a trivial route.

    .venv/bin/python bench/ballots.py [--database postgresql://postgres@127.0.0.1:5432/test]
        [--clients 32] [--ballots 8000] [--requests 20000] [--workers 2]
        [--worker-class sync] [--threads 1]

Builds a throwaway instance in a temporary folder (a SQLite file there, or with `--database`
a PostgreSQL schema of its own, created and dropped), imports a gala of 8 categories all
open to the jury (every method: single, ranked, irv, score, approval), opens voting, issues
one fresh card per ballot and starts gunicorn on 127.0.0.1. A load generator in a process of
its own (threads, raw keep-alive sockets) then sends, with `--clients` requests in flight:
`GET /healthz` (`--requests` times), then `POST /api/v1/ballots` with a ballot over all 8
categories, one fresh card each (half by short code, half by QR token). Prints requests/s,
p50 and p99 for each and the ratio of the two rates; checks that every ballot answered 201
and that the database holds exactly that many ballots. The server is always stopped and
the temporary instance (and schema) removed.

Worker class: `sync` by default. On 2 cores the server is CPU-bound (SQLite's commit
waits ~0.2 ms for the disk, PostgreSQL is a local socket away), so there is nothing for
threads to overlap, and gthread's poller and thread hand-offs cost more than they save:
measured on the 2-core machine, sync served both the trivial route and ballots faster, with
a lower p99. gthread is there (`--worker-class gthread --threads 4`) for comparison.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

HOST = "127.0.0.1"
BALLOT_PATH = "/api/v1/ballots"
TRIVIAL_PATH = "/healthz"
WARMUP_BALLOTS = 64
WARMUP_REQUESTS = 1000
TIMEOUT = 30  # seconds: a socket that says nothing for this long fails its request


# --- The load generator: runs in a process of its own --------------------------------------


def _read_response(sock: socket.socket, buffer: bytes) -> tuple[int, bool, bytes]:
    """One HTTP/1.1 response: (status, server closes the connection, what follows it)."""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the response" if not buffer else "cut short")
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    length, close = 0, lines[0].startswith(b"HTTP/1.0")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            close = value.strip().lower() == b"close"
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("cut short")
        rest += chunk
    return status, close, rest[length:]


def _client(port: int, requests: list[bytes], counter: Any, results: list) -> None:
    sock: socket.socket | None = None
    buffer = b""
    while True:
        index = next(counter)
        if index >= len(requests):
            break
        started = time.perf_counter()
        status: int | None = None
        for attempt in (1, 2):
            fresh = sock is None
            try:
                if sock is None:
                    sock = socket.create_connection((HOST, port), timeout=TIMEOUT)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    buffer = b""
                sock.sendall(requests[index])
                status, close, buffer = _read_response(sock, buffer)
                if close:
                    sock.close()
                    sock = None
                break
            except OSError as error:
                if sock is not None:
                    sock.close()
                    sock = None
                # Only a kept-alive connection the server had already dropped is worth one
                # more try; anything else is a failed request.
                if fresh or attempt == 2 or not isinstance(error, ConnectionError):
                    status = None
                    break
        results.append((time.perf_counter() - started, status))
    if sock is not None:
        sock.close()


def run_load(port: int, requests: list[bytes], clients: int) -> dict[str, Any]:
    """Send every request once with `clients` in flight; rate, latencies, statuses."""
    counter = itertools.count()
    per_thread: list[list] = [[] for _ in range(clients)]
    threads = [threading.Thread(target=_client, args=(port, requests, counter, results),
                                daemon=True)
               for results in per_thread]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT * 10)
    elapsed = time.perf_counter() - started
    results = [item for part in per_thread for item in part]
    latencies = sorted(latency for latency, _ in results)
    return {"count": len(results), "elapsed": elapsed,
            "statuses": Counter(status for _, status in results),
            "p50": latencies[len(latencies) // 2] if latencies else float("nan"),
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
            if latencies else float("nan")}


def _load_child(port: int, requests: list[bytes], clients: int, answer: Any) -> None:
    answer.send(run_load(port, requests, clients))
    answer.close()


def load_in_own_process(port: int, requests: list[bytes], clients: int) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_load_child, args=(port, requests, clients, sender),
                            daemon=True)
    child.start()
    sender.close()
    try:
        if not receiver.poll(TIMEOUT * 20):
            raise RuntimeError("the load generator did not finish")
        return receiver.recv()
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
            child.join(timeout=10)
        receiver.close()


def server_cpu_seconds(pid: int) -> float:
    """CPU time used so far by a gunicorn master and its workers (Linux /proc; else NaN).

    Less noisy than wall-clock rates on a shared machine: it counts only the server's work.
    """
    def cpu(stat: str) -> float:
        fields = stat.rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    total = 0.0
    try:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(entry.name) == pid or int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                total += cpu(stat)
    except OSError:
        return float("nan")
    return total


def measured(server: Any, requests: list[bytes], clients: int) -> dict[str, Any]:
    before = server_cpu_seconds(server.process.pid)
    figures = load_in_own_process(server.port, requests, clients)
    figures["server_cpu"] = server_cpu_seconds(server.process.pid) - before
    return figures


# --- The instance: database, gala, cards ----------------------------------------------------


def gala_document() -> dict[str, Any]:
    """The demo gala (8 balloted categories, every method), every one open to the jury; its
    2 categories decided by the chapter stay off the ballot."""
    doc = json.loads((ROOT / "voting/demo/gala.json").read_text(encoding="utf-8"))
    doc["gala"] = {**doc["gala"], "name": "Benchmark gala", "closes_at": None}
    for category in doc["categories"]:
        if category["method"] != "decision":
            category["weights"] = {"jury": 100}
    return doc


def full_ballot(gala: dict[str, Any]) -> dict[str, Any]:
    """A vote in every category of `GET /api/v1/gala`, using each method to the full."""
    votes: dict[str, Any] = {}
    for category in gala["categories"]:
        ids = [nominee["id"] for nominee in category["nominees"]]
        method, params = category["method"], category["params"]
        if method == "single":
            votes[category["slug"]] = ids[0]
        elif method in ("ranked", "irv"):
            votes[category["slug"]] = ids[:params["places"]]
        elif method == "score":
            votes[category["slug"]] = {str(i): params["max"] - n for n, i in enumerate(ids)}
        elif method == "approval":
            votes[category["slug"]] = ids[:params["max_choices"] or len(ids)]
    return votes


def prepare(uri: str, folder: str, cards_needed: int) -> tuple[list[str], dict[str, Any]]:
    """Migrate, import and open the gala, issue the cards: their credentials and the ballot."""
    from flask_migrate import upgrade

    from voting import cards, create_app, services, transfer
    from voting.ballots import card_keys
    from voting.extensions import db
    from voting.queries import gala_document as public_gala

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench",
                      "INSTANCE_PATH": folder})
    with app.app_context():
        upgrade()
        gala = transfer.import_gala("bench", gala_document())
        services.open_voting("bench", gala.id)
        keys = card_keys(app.config)
        credentials: list[str] = []
        while len(credentials) < cards_needed:
            count = min(cards.MAX_CARDS_PER_BATCH, cards_needed - len(credentials))
            for card in cards.issue_cards("bench", gala.id, "jury", keys, count=count):
                # Half typed short codes, half QR tokens: both ways in are timed.
                credentials.append(card.code if len(credentials) % 2
                                   else card.url.rsplit("/v/", 1)[1])
        votes = full_ballot(public_gala(gala, "en"))
        db.engine.dispose()
    return credentials, votes


def count_ballots(uri: str, folder: str) -> int:
    from sqlalchemy import func, select

    from voting import create_app
    from voting.extensions import db
    from voting.models import Ballot

    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench",
                      "INSTANCE_PATH": folder})
    with app.app_context():
        try:
            return db.session.scalar(select(func.count()).select_from(Ballot))
        finally:
            db.session.remove()
            db.engine.dispose()


def http_request(port: int, method: str, path: str, body: bytes | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
    if body is None:
        return (head + "\r\n").encode()
    return (head + f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def ballot_requests(port: int, credentials: list[str], votes: dict[str, Any]) -> list[bytes]:
    return [http_request(port, "POST", BALLOT_PATH,
                         json.dumps({"token": credential, "votes": votes}).encode())
            for credential in credentials]


def report(name: str, figures: dict[str, Any]) -> float:
    rate = figures["count"] / figures["elapsed"]
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(
        figures["statuses"].items(), key=lambda item: str(item[0])))
    cpu = figures["server_cpu"] / max(figures["count"], 1) * 1000
    print(f"{name:<24}{figures['count']:>8}{rate:>10.0f}{figures['p50'] * 1000:>10.1f}"
          f"{figures['p99'] * 1000:>10.1f}{cpu:>10.2f}   {statuses}")
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", help="a PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--ballots", type=int, default=8000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"))
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import servers  # tests/servers.py: starts and always stops gunicorn

    schema = None
    admin = None
    with tempfile.TemporaryDirectory(prefix="zl-bench-") as folder:
        try:
            if args.database:
                from sqlalchemy import create_engine, text

                base = "postgresql+psycopg://" + args.database.split("://", 1)[1]
                schema = f"zl_bench_{os.getpid()}_{secrets.token_hex(4)}"
                admin = create_engine(base)
                with admin.begin() as connection:
                    connection.execute(text(f'CREATE SCHEMA "{schema}"'))
                joiner = "&" if "?" in base else "?"
                uri = f"{base}{joiner}options=-csearch_path%3D{schema}"
                kind = "PostgreSQL"
            else:
                uri = f"sqlite:///{folder}/bench.sqlite3"
                kind = "SQLite"
            started = time.perf_counter()
            credentials, votes = prepare(uri, folder, args.ballots + WARMUP_BALLOTS)
            print(f"{kind}: {len(credentials)} cards issued in "
                  f"{time.perf_counter() - started:.1f} s; a ballot marks "
                  f"{len(votes)} categories")
            env = {"APP_CONFIG": "default", "DATABASE_URL": uri, "INSTANCE_PATH": folder,
                   "SECRET_KEY": "bench", "RATELIMIT_STORAGE_URI": "memory://"}
            with servers.gunicorn(env, Path(folder) / "gunicorn.log", workers=args.workers,
                                  worker_class=args.worker_class,
                                  threads=args.threads) as server:
                port = server.port
                trivial = [http_request(port, "GET", TRIVIAL_PATH)]
                ballots = ballot_requests(port, credentials, votes)
                # Warm every worker: imports, connection pools, the gala's rules.
                load_in_own_process(port, trivial * WARMUP_REQUESTS, args.clients)
                warm = load_in_own_process(port, ballots[:WARMUP_BALLOTS], args.clients)
                trivial_figures = measured(server, trivial * args.requests, args.clients)
                ballot_figures = measured(server, ballots[WARMUP_BALLOTS:], args.clients)
                log = server.log_tail()
            stored = count_ballots(uri, folder)
        finally:
            if admin is not None:
                with admin.begin() as connection:
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
                admin.dispose()

    print(f"gunicorn: {args.workers} {args.worker_class} workers"
          + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
          + f", {args.clients} clients, on {os.cpu_count()} cores")
    print(f"{'route':<24}{'requests':>8}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
          f"{'cpu ms':>10}   statuses")
    trivial_rate = report(f"GET {TRIVIAL_PATH}", trivial_figures)
    ballot_rate = report(f"POST {BALLOT_PATH}", ballot_figures)
    cpu_ratio = ((trivial_figures["server_cpu"] / args.requests)
                 / (ballot_figures["server_cpu"] / args.ballots))
    print(f"ballots / trivial: {ballot_rate / trivial_rate:.1%} by rate "
          f"({cpu_ratio:.1%} by the server's CPU per request)")
    accepted = warm["statuses"][201] + ballot_figures["statuses"][201]
    problems = []
    if trivial_figures["statuses"] != Counter({200: args.requests}):
        problems.append("not every trivial request answered 200")
    if ballot_figures["statuses"] != Counter({201: args.ballots}):
        problems.append("not every ballot answered 201")
    if stored != accepted:
        problems.append(f"{accepted} ballots answered 201 but {stored} are stored")
    for problem in problems:
        print("PROBLEM:", problem)
    if problems and log:
        print("--- end of the server's log ---\n" + log)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
