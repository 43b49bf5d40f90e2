"""Time the reports on five years of clinic history, on SQLite and PostgreSQL:
`make bench-reports`.

For each database (a file in a temporary folder; a fresh PostgreSQL database
`clinic_bench_reports`, dropped at the end): migrate and load `flask seed-demo --scale large
--years 10` (ten years of clinic days, 40 seats a day, so that the five-year report's previous
period is five years of history too), then, in a process of its own with the app as
`wsgi.py` builds it:

- `clinic.reports.figures.report(period, rules, today, course_sessions)` for the last whole
  year and for the last five years: the median of BENCH_REPORT_RUNS runs after a warm-up;
- the statements one report sends for a month, a year and five years, counted as the query
  budget tests count them (tests/support/querycount.py): they must be equal, since a report
  reads a range with a fixed number of statements;
- `GET /healthz` through the test client, as the unit the page times are read in;
- `GET /staff/reports` for that year and for the five years, signed in as the demo admin (the
  password, then a code from the admin's public two-step key).

Writes the "Reports" section of bench/RESULTS.md, and only that section: the rest of the file
is `make bench`'s. BENCH_DATABASES (default "sqlite,postgresql") and BENCH_REPORT_RUNS
(default 11) as for bench/run.py.

Not a test: the numbers depend on the machine; the targets are marked, not asserted.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Reports"

DATABASES = [
    name.strip().lower()
    for name in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
    if name.strip()
]
RUNS = int(os.environ.get("BENCH_REPORT_RUNS", "11"))
WARM_UP = 2  # runs not kept: the first compiles the statements and fills the caches
PAGE_RUNS = max(RUNS // 2, 3)  # a page is a report and a render: slower, so fewer

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
POSTGRES_DB = "clinic_bench_reports"
ADMIN_EMAIL, PASSWORD = "admin@clinic.example", "demo-clinic-2026"  # the demo's, public

# The targets of issue 17: one report (a period and the one before it) within these.
TARGETS_MS = {"1 year": 200.0, "5 years": 1000.0}
SEED_YEARS = 10


@dataclass(frozen=True)
class Database:
    name: str
    url: str


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        # The child: the app built from the environment the parent set, as gunicorn does.
        print(json.dumps(measure()))
        return
    began = time.monotonic()
    load_before = os.getloadavg()[0]
    results = []
    with tempfile.TemporaryDirectory(prefix="clinic-bench-reports-") as tmp:
        for database in databases(Path(tmp)):
            try:
                seeded = migrate_and_seed(database)
                print(f"== {database.name}: measuring", flush=True)
                measured = run_child(database)
                results.append({"database": database.name, "seeded": seeded, **measured})
                show(results[-1])
            finally:
                if database.name == "PostgreSQL":
                    drop_postgres()
    minutes = (time.monotonic() - began) / 60
    write_section(section(results, minutes, (load_before, os.getloadavg()[0])))
    print(f"\nWrote the Reports section of {RESULTS.relative_to(ROOT)} in {minutes:.1f} minutes.")


# --- Databases -------------------------------------------------------------------------------


def databases(tmp: Path):
    if "sqlite" in DATABASES:
        yield Database("SQLite", f"sqlite:///{tmp / 'reports.sqlite3'}")
    if "postgresql" in DATABASES and fresh_postgres():
        yield Database("PostgreSQL", POSTGRES_SERVER + POSTGRES_DB)


def _postgres_admin():
    import psycopg  # the app's driver, from the venv

    server = urlsplit(POSTGRES_SERVER)
    return psycopg.connect(
        host=server.hostname,
        port=server.port,
        user=server.username,
        dbname="postgres",
        autocommit=True,
        connect_timeout=3,
    )


def fresh_postgres() -> bool:
    """Re-create the bench database; False (loudly) when no server answers."""
    import psycopg

    try:
        admin = _postgres_admin()
    except psycopg.OperationalError as error:
        banner = "!" * 78
        print(f"\n{banner}\nPostgreSQL SKIPPED: {error}\n{banner}\n", file=sys.stderr, flush=True)
        return False
    with admin:
        # FORCE: a previous run that died may have left a connection behind.
        admin.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {POSTGRES_DB}")
    return True


def drop_postgres() -> None:
    with _postgres_admin() as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB} WITH (FORCE)")


def app_env(database: Database) -> dict[str, str]:
    return {
        **os.environ,
        "CLINIC_ENV": "development",
        "DATABASE_URL": database.url,
        "SECRET_KEY": "bench-only-not-secret",
        "PYTHONPATH": str(ROOT),
    }


def migrate_and_seed(database: Database) -> str:
    """Returns seed-demo's summary and how long it took."""
    print(f"== {database.name}: migrating and seeding (--scale large)", flush=True)
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    env = app_env(database)
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    started = time.monotonic()
    seed = subprocess.run(
        # Ten years: the five-year report compares with the five years before it, so both
        # periods it reads hold a clinic's history, not one of them empty.
        [*flask, "seed-demo", "--scale", "large", "--years", str(SEED_YEARS)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    seconds = time.monotonic() - started
    last_line = seed.stdout.strip().splitlines()[-1]
    summary = last_line.removeprefix("Demo clinic loaded: ").split(" Staff sign-in")[0].rstrip(".")
    print(f"   {summary} ({seconds:.1f} s)", flush=True)
    return f"{summary} (seeded in {seconds:.1f} s)"


def run_child(database: Database) -> dict:
    child = subprocess.run(
        [str(BIN / "python"), str(Path(__file__).resolve()), "--measure"],
        cwd=ROOT,
        env=app_env(database),
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(child.stdout.strip().splitlines()[-1])


# --- The measures (the child process) --------------------------------------------------------


def measure() -> dict:
    sys.path.insert(0, str(ROOT))
    from sqlalchemy import func, select

    from clinic import create_app, settings
    from clinic.extensions import db
    from clinic.models import Appointment, Youth
    from clinic.reports.figures import report
    from clinic.rules.reports import Period, RangeKind, last_complete
    from tests.support.querycount import count_statements

    app = create_app()
    with app.app_context():
        rules = settings.current_rules()
        today = settings.clinic_now(rules).date()
        course = settings.course_sessions()
        month = last_complete(RangeKind.MONTH, today)
        year = last_complete(RangeKind.YEAR, today)
        # Five years back from yesterday; the period before it is the seed's first five.
        five = Period(today - timedelta(days=5 * 365), today - timedelta(days=1))
        periods = {"1 month": month, "1 year": year, "5 years": five}

        def one(period: Period) -> None:
            report(period, rules, today, course)
            db.session.rollback()  # end the read, as a request's end does

        statements = {}
        for name, period in periods.items():
            one(period)  # the statements compiled and cached first, as in a warm worker
            with count_statements() as sent:
                one(period)
            statements[name] = len(sent)
        timings = {name: median_ms(lambda p=periods[name]: one(p), RUNS) for name in TARGETS_MS}
        appointments = db.session.scalar(select(func.count()).select_from(Appointment))
        youth = db.session.scalar(select(func.count()).select_from(Youth))
        db.session.rollback()
        engine = db_version()

    client = app.test_client()
    healthz = median_ms(lambda: expect(client.get("/healthz"), 200), RUNS * 10)
    sign_in(app, client)
    pages = {}
    for name, args in (
        ("1 year", {"kind": "year", "year": str(year.start.year)}),
        (
            "5 years",
            {"kind": "custom", "start": five.start.isoformat(), "end": five.end.isoformat()},
        ),
    ):
        url = "/staff/reports?" + urlencode(args)
        pages[name] = {
            "url": url,
            "ms": median_ms(lambda u=url: expect(client.get(u), 200), PAGE_RUNS),
        }
    with app.app_context():
        db.engine.dispose()
    return {
        "periods": {name: [p.start.isoformat(), p.end.isoformat()] for name, p in periods.items()},
        "statements": statements,
        "report_ms": timings,
        "healthz_ms": healthz,
        "pages": pages,
        "rows": {"appointments": appointments, "youth": youth},
        "engine": engine,
    }


def median_ms(work, runs: int) -> float:
    for _ in range(WARM_UP):
        work()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def expect(response, status: int):
    if response.status_code != status:
        raise RuntimeError(f"{response.request.path} answered {response.status_code}")
    return response


def sign_in(app, client) -> None:
    """The demo admin signs in as a browser does: the password, then a code from the
    authenticator (the demo's public key). The bench process sends no CSRF tokens: it is
    the only thing this child turns off, and only for its own requests."""
    from clinic import accounts
    from clinic.commands.demo import DEMO_TOTP_SECRET

    app.config["WTF_CSRF_ENABLED"] = False
    client.post("/auth/login", data={"email": ADMIN_EMAIL, "password": PASSWORD})
    code = accounts.totp_code(DEMO_TOTP_SECRET, accounts.totp_step(time.time()))
    client.post("/auth/two-factor", data={"code": code})
    expect(client.get("/staff/reports"), 200)


def db_version() -> str:
    from sqlalchemy import text

    from clinic.extensions import db

    with db.engine.connect() as connection:
        if db.engine.dialect.name == "sqlite":
            return "SQLite " + connection.scalar(text("select sqlite_version()"))
        return "PostgreSQL " + connection.scalar(text("show server_version")).split()[0]


# --- The report ------------------------------------------------------------------------------


def show(result: dict) -> None:
    for name, ms in result["report_ms"].items():
        print(f"   report, {name:<8} {ms:8.1f} ms (target {TARGETS_MS[name]:.0f} ms)")
    print(f"   statements: {result['statements']}")
    print(f"   /healthz {result['healthz_ms']:.2f} ms")
    for name, page in result["pages"].items():
        print(f"   page, {name:<8} {page['ms']:8.1f} ms")


def section(results: list[dict], minutes: float, load: tuple[float, float]) -> str:
    lines = [
        SECTION,
        "",
        "Written by `make bench-reports` (bench/reports.py; see bench/README.md). One report is",
        "the figures of a period and of the period before it (`clinic.reports.figures.report`),",
        f"in the app's process: the median of {RUNS} runs after {WARM_UP} not kept. Pages through",
        f"the test client, signed in as the demo admin: the median of {PAGE_RUNS}.",
        "",
        "| | |",
        "| --- | --- |",
        f"| date | {datetime.now(UTC):%Y-%m-%d %H:%M} UTC |",
        f"| machine | {os.cpu_count()} CPUs, Python {platform.python_version()} |",
        f"| whole run | {minutes:.1f} minutes |",
        f"| load average (1 min) | {load[0]:.2f} before the run, {load[1]:.2f} at its end, the "
        "benchmark's own load included |",
    ]
    for result in results:
        lines.append(
            f"| data, {result['database']} | {result['engine']}; `flask seed-demo --scale "
            f"large --years {SEED_YEARS}`: {result['seeded']} |"
        )
    if "postgresql" in DATABASES and not any(r["database"] == "PostgreSQL" for r in results):
        lines.append("| PostgreSQL | **SKIPPED**: no server answered at 127.0.0.1:5432 |")
    lines += [
        "",
        "| database | report | dates | median ms | target | statements |",
        "| --- | --- | --- | ---: | --- | ---: |",
    ]
    for result in results:
        for name, (start, end) in result["periods"].items():
            ms = result["report_ms"].get(name)
            target = TARGETS_MS.get(name)
            verdict = ""
            if ms is not None and target is not None:
                verdict = f"{'met' if ms < target else 'MISSED'} (< {target:.0f} ms)"
            shown = f"{ms:,.1f}" if ms is not None else ""
            lines.append(
                f"| {result['database']} | {name} | {start} to {end} | {shown} | {verdict} "
                f"| {result['statements'][name]} |"
            )
    lines += [
        "",
        "| database | page | median ms | ratio to /healthz |",
        "| --- | --- | ---: | ---: |",
    ]
    for result in results:
        healthz = result["healthz_ms"]
        lines.append(f"| {result['database']} | `/healthz` | {healthz:.2f} | 1 |")
        for page in result["pages"].values():
            lines.append(
                f"| {result['database']} | `{page['url']}` | {page['ms']:,.1f} "
                f"| {page['ms'] / healthz:,.0f} |"
            )
    equal = all(len(set(r["statements"].values())) == 1 for r in results)
    lines += [
        "",
        "A report sends the same statements whatever its range: "
        + ("**yes**, on every database measured." if equal else "**NO**: see the table."),
        "",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    """Replace the Reports section of RESULTS.md (from its heading to the next "## " heading
    or the end), or add it at the end; the rest of the file stays as it is."""
    existing = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    lines = existing.splitlines()
    try:
        start = lines.index(SECTION)
    except ValueError:
        RESULTS.write_text(existing.rstrip("\n") + "\n\n" + text)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    kept_after = lines[end:]
    new = [*lines[:start], *text.rstrip("\n").splitlines()]
    if kept_after:
        new += ["", *kept_after]
    RESULTS.write_text("\n".join(new) + "\n")


if __name__ == "__main__":
    main()
