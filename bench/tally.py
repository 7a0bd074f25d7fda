"""The tally of a big gala straight from the database, the ballot box export, and sealing.

    .venv/bin/python bench/tally.py [--ballots 100000] [--db sqlite|postgresql|both]
        [--repeats 5] [--seal-repeats 1] [--trace-seal] [--seed 2026]
        [--database postgresql://postgres@127.0.0.1:5432/test]

Builds a throwaway database (SQLite: a file in a temporary folder; PostgreSQL: a schema of
its own in `--database`, created and dropped), migrated by `flask db upgrade`, with a gala of
8 categories of mixed methods and 5 to 8 nominees each:

    single (audience)                       ranked, points 12,10,8,7,6 (audience)
    ranked, default Borda (audience)        score 1..10, min_scores 500 (audience)
    approval, at most 3 (audience)          irv, 5 places (audience)
    ranked 5,3,1, jury 70 / audience 30     score 1..5, min_scores 20, jury 60 / audience 40

then opens the vote and inserts `--ballots` ballots in bulk (one INSERT per batch on SQLite,
COPY on PostgreSQL; not through `cast_ballot`, which `bench/ballots.py` measures): 5% jury,
95% audience, each voting in about 90% of its categories with marks valid for the method and
skewed towards some nominees (one nominee of the big score category is scored so rarely that
it stays under its minimum). It then times, each `--repeats` times (min and median):

- `results.tally_gala(gala)`: the whole tally from the database (target: under 2 s);
- `results.ballot_box(gala)`: the anonymised export and its fingerprint;

and `services.close_voting` (`--seal-repeats` times, the gala put back to open in between):
the ballot box rewritten in a random order, its fingerprint, the tally and the seals, in one
transaction. Beside the wall-clock seconds it prints the CPU seconds spent on them: this
process's, plus on PostgreSQL the server backend's (read from /proc, so only for a server on
this machine), which other work on a shared machine inflates far less. Peak Python memory
(tracemalloc) is measured in separate runs, so its overhead never enters the timings; for
the close only with `--trace-seal` (traced, a close of 100,000 ballots takes minutes). The
process's peak RSS is printed at the end. It also checks that a recount of the export gives
exactly the tally from the database. Prints figures, asserts no timing.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import resource
import secrets
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

JURY_SHARE = 0.05  # of the ballots; the rest are the audience's
TURNOUT = 0.9  # chance that a ballot votes in one of its categories
BATCH = 20000  # rows per INSERT batch on SQLite

# slug, method, params, weights, nominees
CATEGORIES: list[tuple[str, str, dict[str, Any], dict[str, int], int]] = [
    ("pojedynczy", "single", {}, {"audience": 100}, 6),
    ("punkty", "ranked", {"places": 5, "points": [12, 10, 8, 7, 6]}, {"audience": 100}, 8),
    ("borda", "ranked", {"places": 4}, {"audience": 100}, 7),
    ("oceny", "score", {"min": 1, "max": 10, "min_scores": 500}, {"audience": 100}, 6),
    ("aprobata", "approval", {"max_choices": 3}, {"audience": 100}, 7),
    ("dogrywka", "irv", {"places": 5}, {"audience": 100}, 6),
    ("jury-i-publicznosc", "ranked", {"places": 3, "points": [5, 3, 1]},
     {"jury": 70, "audience": 30}, 5),
    ("oceny-jury", "score", {"min": 1, "max": 5, "min_scores": 20},
     {"jury": 60, "audience": 40}, 5),
]
BORDA = "borda"  # its points are cleared after the import: Borda over the places filled


# --- The gala -------------------------------------------------------------------------------


def gala_document(rng: random.Random) -> dict[str, Any]:
    demo = json.loads((ROOT / "voting/demo/gala.json").read_text(encoding="utf-8"))
    keys = [p["key"] for p in demo["profiles"]]
    categories = []
    for slug, method, params, weights, count in CATEGORIES:
        categories.append({
            "slug": slug, "name_pl": f"Kategoria {slug}", "name_en": f"Category {slug}",
            "method": method, "params": params, "weights": weights,
            "nominations": [{"profile": key, "citation": "za wszystko"}
                            for key in rng.sample(keys, count)],
        })
    return {**demo, "gala": {**demo["gala"], "name": "Benchmark gala", "date": "2031-11-28",
                             "closes_at": None},
            "categories": categories}


class Marker:
    """What the ballot generator needs of a stored category."""

    def __init__(self, row: Any, rng: random.Random) -> None:
        self.id, self.method, self.slug = row.id, row.method, row.slug
        self.places, self.max_choices = row.places, row.max_choices
        self.low, self.high = row.score_min, row.score_max
        self.groups = set(row.weights())
        self.nominees = sorted(n.id for n in row.nominations)
        # Popularity: a few favourites, a long tail; the weights shape every method's marks.
        self.weight = {n: rng.paretovariate(1.2) for n in self.nominees}
        self.mean = {n: rng.uniform(self.low or 0, self.high or 1) for n in self.nominees}
        self.scored = {n: rng.uniform(0.5, 1.0) for n in self.nominees}
        if self.method == "score" and self.slug == "oceny":
            self.scored[self.nominees[-1]] = 0.004  # scored too rarely: under min_scores
        self.approve = {n: min(0.9, 0.15 * self.weight[n]) for n in self.nominees}

    def marks(self, rng: random.Random) -> list[tuple[int, int | None, int | None]]:
        """One ballot's marks here as (nominee, place, score) rows; [] abstains."""
        if self.method == "single":
            return [(rng.choices(self.nominees, [self.weight[n] for n in self.nominees])[0],
                     None, None)]
        if self.method in ("ranked", "irv"):
            # A weighted order without replacement (keys u ** (1 / w)), filled to 1..places.
            order = sorted(self.nominees, key=lambda n: -rng.random() ** (1 / self.weight[n]))
            filled = self.places if rng.random() < 0.7 else rng.randint(1, self.places)
            return [(n, place, None) for place, n in enumerate(order[:filled], start=1)]
        if self.method == "score":
            return [(n, None, max(self.low, min(self.high, round(rng.gauss(self.mean[n], 2)))))
                    for n in self.nominees if rng.random() < self.scored[n]]
        chosen = [n for n in self.nominees if rng.random() < self.approve[n]]
        if len(chosen) > self.max_choices:
            chosen = rng.sample(chosen, self.max_choices)
        return [(n, None, None) for n in chosen]


def generate(categories: list[Marker], gala_id: int, count: int,
             rng: random.Random) -> tuple[list[tuple], list[tuple]]:
    ballots: list[tuple] = []
    choices: list[tuple] = []
    for number in range(count):
        group = "jury" if rng.random() < JURY_SHARE else "audience"
        ballot_id = uuid.UUID(int=rng.getrandbits(128)).hex
        ballots.append((ballot_id, gala_id, group, f"B{number:012d}"))
        for category in categories:
            if group in category.groups and rng.random() < TURNOUT:
                choices.extend((ballot_id, category.id, nominee, place, score)
                               for nominee, place, score in category.marks(rng))
    return ballots, choices


INSERT_BALLOTS = 'INSERT INTO ballot (id, gala_id, "group", receipt) VALUES (?, ?, ?, ?)'
INSERT_CHOICES = ("INSERT INTO ballot_choice (ballot_id, category_id, nomination_id, place, "
                  "score) VALUES (?, ?, ?, ?, ?)")
COPY_BALLOTS = 'COPY ballot (id, gala_id, "group", receipt) FROM STDIN'
COPY_CHOICES = ("COPY ballot_choice (ballot_id, category_id, nomination_id, place, score) "
                "FROM STDIN")


def insert(ballots: list[tuple], choices: list[tuple]) -> None:
    """Straight into ballot and ballot_choice: executemany on SQLite, COPY on PostgreSQL."""
    from voting.extensions import db

    if db.engine.dialect.name == "postgresql":
        raw = db.engine.raw_connection()
        try:
            with raw.driver_connection.cursor() as cursor:
                with cursor.copy(COPY_BALLOTS) as copy:
                    for row in ballots:
                        copy.write_row(row)
                with cursor.copy(COPY_CHOICES) as copy:
                    for row in choices:
                        copy.write_row(row)
            raw.driver_connection.commit()
            with raw.driver_connection.cursor() as cursor:
                cursor.execute("ANALYZE ballot")
                cursor.execute("ANALYZE ballot_choice")
            raw.driver_connection.commit()
        finally:
            raw.close()
        return
    with db.engine.begin() as connection:
        for start in range(0, len(ballots), BATCH):
            connection.exec_driver_sql(INSERT_BALLOTS, ballots[start:start + BATCH])
        for start in range(0, len(choices), BATCH):
            connection.exec_driver_sql(INSERT_CHOICES, choices[start:start + BATCH])
        connection.exec_driver_sql("ANALYZE")


def build(uri: str, folder: str, args: argparse.Namespace) -> tuple[Any, int, dict[str, Any]]:
    """Migrate, import and open the gala, insert the ballots: (app, gala id, figures)."""
    from flask_migrate import upgrade
    from sqlalchemy import update

    from voting import create_app, results, services, transfer
    from voting.extensions import db
    from voting.models import Category as CategoryRow

    rng = random.Random(args.seed)
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench",
                      "INSTANCE_PATH": folder})
    with app.app_context():
        upgrade()
        gala = transfer.import_gala("bench", gala_document(rng))
        gala_id = gala.id
        with db.engine.begin() as connection:  # Borda over the places filled: no fixed points
            connection.execute(update(CategoryRow).where(CategoryRow.gala_id == gala_id,
                                                         CategoryRow.slug == BORDA)
                               .values(points_json=None))
        db.session.expire_all()
        services.open_voting("bench", gala_id)
        rows = results.gala_categories(db.session.get(type(gala), gala_id))
        categories = [Marker(row, rng) for row in rows]
        started = time.perf_counter()
        ballots, choices = generate(categories, gala_id, args.ballots, rng)
        generated = time.perf_counter() - started
        started = time.perf_counter()
        insert(ballots, choices)
        inserted = time.perf_counter() - started
        db.session.remove()
    return app, gala_id, {"ballots": len(ballots), "choices": len(choices),
                          "generated": generated, "inserted": inserted}


# --- Timing ---------------------------------------------------------------------------------


def backend_cpu(pid: int | None) -> float:
    """CPU seconds used so far by a PostgreSQL backend on this machine (0 without one)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def backend_pid() -> int | None:
    """The PostgreSQL backend serving this session's transaction, None on SQLite."""
    from sqlalchemy import text

    from voting.extensions import db

    if db.session.get_bind().dialect.name != "postgresql":
        return None
    return db.session.scalar(text("SELECT pg_backend_pid()"))


def timed(function: Callable[[], Any], repeats: int
          ) -> tuple[list[float], list[float], Any]:
    """Wall-clock and CPU seconds (this process and its database backend) of each run."""
    times, cpu, value = [], [], None
    for _ in range(repeats):
        gc.collect()
        pid = backend_pid()  # the session keeps this connection until the call ends
        server, process = backend_cpu(pid), time.process_time()
        started = time.perf_counter()
        value = function()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - process + backend_cpu(pid) - server)
    return times, cpu, value


def peak_memory(function: Callable[[], Any]) -> int:
    """Peak Python memory allocated while the function runs, in bytes (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def reopen(gala_id: int) -> None:
    """Undo a close for the next round: the gala open again, unsealed, its seals gone."""
    from sqlalchemy import delete, select, update

    from voting.extensions import db
    from voting.models import Category, Gala, ResultSeal

    with db.engine.begin() as connection:
        connection.execute(delete(ResultSeal).where(ResultSeal.category_id.in_(
            select(Category.id).where(Category.gala_id == gala_id))))
        connection.execute(update(Gala).where(Gala.id == gala_id).values(
            voting_state="open", closed_at=None, sealed_at=None, ballot_box_fingerprint=None))
    db.session.expire_all()


def line(name: str, times: list[float], cpu: list[float], memory: int | None = None) -> str:
    figures = (f"{name:<24}{min(times):>8.3f}{statistics.median(times):>8.3f}"
               f"{max(times):>8.3f}{statistics.median(cpu):>8.3f}{len(times):>5}")
    return figures + (f"{memory / 2**20:>10.1f}" if memory is not None else f"{'-':>10}")


def run(kind: str, uri: str, folder: str, args: argparse.Namespace) -> None:
    from voting import results, services, tally
    from voting.extensions import db
    from voting.models import Gala

    started = time.perf_counter()
    app, gala_id, built = build(uri, folder, args)
    print(f"\n{kind}: {built['ballots']} ballots, {built['choices']} marks "
          f"({built['choices'] / max(built['ballots'], 1):.1f} a ballot); generated in "
          f"{built['generated']:.1f} s, inserted in {built['inserted']:.1f} s "
          f"(set-up {time.perf_counter() - started:.1f} s in all)")
    with app.app_context():
        def gala() -> Gala:
            return db.session.get(Gala, gala_id)

        def tally_once() -> dict[int, tally.CategoryResult]:
            value = results.tally_gala(gala())
            db.session.rollback()  # end the read transaction, as a request would
            return value

        def box_once() -> results.BallotBox:
            value = results.ballot_box(gala())
            db.session.rollback()
            return value

        def seal_once() -> None:
            services.close_voting("bench", gala_id)

        tally_times, tally_cpu, tallied = timed(tally_once, args.repeats)
        tally_memory = peak_memory(tally_once)
        box_times, box_cpu, box = timed(box_once, args.repeats)
        box_memory = peak_memory(box_once)
        recounted = results.tally_export(box.document)
        by_slug = {c.slug: c for c in results.gala_categories(gala())}
        same = all(tally.canonical_json(tallied[by_slug[slug].id])
                   == tally.canonical_json(result) for slug, result in recounted.items())
        db.session.rollback()
        seal_times: list[float] = []
        seal_cpu: list[float] = []
        for round_ in range(args.seal_repeats):
            if round_:
                reopen(gala_id)
            wall, cpu, _ = timed(seal_once, 1)
            seal_times += wall
            seal_cpu += cpu
        seal_memory = None
        if args.trace_seal:  # one more close, traced, untimed
            if args.seal_repeats:
                reopen(gala_id)
            seal_memory = peak_memory(seal_once)
        db.session.remove()
        db.engine.dispose()

    print(f"{'seconds':<24}{'min':>8}{'median':>8}{'max':>8}{'cpu':>8}{'runs':>5}"
          f"{'peak MiB':>10}")
    print(line("results.tally_gala", tally_times, tally_cpu, tally_memory))
    print(line("results.ballot_box", box_times, box_cpu, box_memory))
    if seal_times:
        print(line("services.close_voting", seal_times, seal_cpu, seal_memory))
    elif seal_memory is not None:
        print(f"services.close_voting: peak {seal_memory / 2**20:.1f} MiB (traced, untimed)")
    print(f"tally under 2 s: {'yes' if min(tally_times) < 2 else 'NO'} (min), "
          f"{'yes' if statistics.median(tally_times) < 2 else 'NO'} (median); recount of "
          f"the export ({len(box.document['ballots'])} ballots) equals the tally: "
          f"{'yes' if same else 'NO'}")
    for slug, result in recounted.items():
        outcome = (f"winner {result.winner}" if result.winner is not None
                   else f"tie {result.tied}" if result.tie else "no winner")
        ineligible = sum(not r.eligible for r in result.ranking)
        print(f"  {slug:<20}{result.method:<9}{result.ballots:>8} ballots  {outcome}"
              + (f", {ineligible} not eligible" if ineligible else "")
              + (f", {len(result.rounds)} rounds" if result.rounds else ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ballots", type=int, default=100_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seal-repeats", type=int, default=1)
    parser.add_argument("--trace-seal", action="store_true",
                        help="also trace one close's peak memory (slow: minutes at 100,000)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="the PostgreSQL server and database for --db postgresql")
    args = parser.parse_args()
    print(f"{args.ballots} ballots, 8 categories, {os.cpu_count()} cores (load average "
          f"{os.getloadavg()[0]:.1f}), Python {sys.version.split()[0]}; cpu: median CPU "
          "seconds of this process and its database server backend")
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="zl-bench-tally-") as folder:
            run("SQLite", f"sqlite:///{folder}/bench.sqlite3", folder, args)
    if args.db in ("postgresql", "both"):
        from sqlalchemy import create_engine, text

        base = "postgresql+psycopg://" + args.database.split("://", 1)[1]
        schema = f"zl_bench_tally_{os.getpid()}_{secrets.token_hex(4)}"
        admin = create_engine(base)
        try:
            with admin.begin() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
            joiner = "&" if "?" in base else "?"
            with tempfile.TemporaryDirectory(prefix="zl-bench-tally-") as folder:
                run("PostgreSQL", f"{base}{joiner}options=-csearch_path%3D{schema}", folder,
                    args)
        finally:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS of the whole run (ballot generation included): {peak:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
