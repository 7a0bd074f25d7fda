"""Latency of the public pages and the API with the demo gala, in-process (no network).

    .venv/bin/python bench/public_pages.py [requests-per-page]

Builds a throwaway SQLite database by the migrations in a temporary folder, loads the demo
gala and times a bounded number of requests per page. Prints figures (it only checks
that every answer is a 200).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade

from voting import create_app, display_links, transfer
from voting.extensions import db

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("/", "/nominees", "/api/v1/gala", "/display/", "/display/state", "/api/v1/reveal")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3",
                          "SECRET_KEY": "bench", "INSTANCE_PATH": folder})
        with app.app_context():
            upgrade()
            doc = json.loads((ROOT / "voting/demo/gala.json").read_text(encoding="utf-8"))
            transfer.import_gala("bench", doc)
            display = "/display/?key=" + display_links.create_link("bench", "bench")[1]
        client = app.test_client()
        print(f"{count} requests per page, demo gala (10 categories, 25 profiles), SQLite")
        print(f"{'page':<16}{'median ms':>10}{'p95 ms':>10}{'req/s':>10}")
        for page in PAGES:
            page = page + display[len("/display/"):] if page.startswith("/display/") else page
            client.get(page)  # warm the template cache
            timings = []
            for _ in range(count):
                start = time.perf_counter()
                response = client.get(page)
                timings.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, page
            timings.sort()
            p95 = timings[int(len(timings) * 0.95) - 1]
            rate = 1000 / statistics.mean(timings)
            print(f"{page.split('?')[0]:<16}{statistics.median(timings):>10.2f}{p95:>10.2f}{rate:>10.0f}")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
