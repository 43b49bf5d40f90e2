"""Benchmark the clinic's pages under gunicorn, on SQLite and PostgreSQL: `make bench`.

For each database: migrate, load `flask seed-demo --scale large`, then for 2 and 4 sync
workers serve the app with gunicorn and load each page with wrk from another process, beside
two other servers under the same gunicorn and load: a bare Flask hello-world (bench/hello.py)
and the peer, django-appointment's booking page (bench/peer/, in its own venv under
bench/out/). Also times ten years of clinic days and slots in the pure scheduling module.
Writes bench/RESULTS.md; gunicorn's logs and wrk's raw output go to bench/out/.

BENCH_DURATION (per page, default 10s), BENCH_WORKERS (default "2,4"), BENCH_DATABASES
(default "sqlite,postgresql") and BENCH_PEER=0 (no peer) make a quicker run; BENCH_ROUNDS=3
measures each page three times, round-robin, and keeps its best (for a shared machine).

Not a test: the numbers depend on the machine, and nothing here asserts on them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from http.client import HTTPConnection
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the pure rules come from the app's package, run as a script

from clinic.rules.calendar import DayDefaults, clinic_days, day_slots, plan_days  # noqa: E402

BIN = ROOT / ".venv" / "bin"
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "RESULTS.md"

WORKER_COUNTS = tuple(int(n) for n in os.environ.get("BENCH_WORKERS", "2,4").split(","))
DATABASES = {
    name.strip().lower()
    for name in os.environ.get("BENCH_DATABASES", "sqlite,postgresql").split(",")
}
WRK_THREADS, WRK_CONNECTIONS = 2, 16
WRK_DURATION = os.environ.get("BENCH_DURATION", "10s")  # per page; "2s" for a quick try
PAGE_CACHE_SECONDS = os.environ.get("BENCH_PAGE_CACHE_SECONDS", "2")  # clinic/web/page_cache.py
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "1"))  # per page, best kept: see benchmark()
WARM_UP = "2s"  # per page, not recorded: each worker's first requests compile templates
PORTS = range(18_300, 18_400)
BUSY_ELSEWHERE = 0.10  # other processes' share of the CPU above which a number is flagged

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/"
POSTGRES_DB = "clinic_bench"
STAFF_EMAIL, STAFF_PASSWORD = "frontdesk@clinic.example", "demo-clinic-2026"
# Staff sessions are bound to the browser (Flask-Login's "strong" protection hashes the
# User-Agent), so the login and wrk must send the same one.
USER_AGENT = "clinic-bench/1"

# The targets of issue 15, as ratios to the clinic's own /healthz in the same run.
PUBLIC_TARGET, STAFF_TARGET, HEALTHZ_TARGET = 0.30, 0.15, 0.85

# The peer: pinned, so that runs compare; installed on first use in its own venv.
PEER_PACKAGES = ("django-appointment==3.12.0", "gunicorn==27.0.1")
PEER_VENV = OUT / "peer-venv"
PEER_PROJECT = ROOT / "bench" / "peer"


@dataclass(frozen=True)
class Database:
    name: str
    url: str


@dataclass(frozen=True)
class Page:
    name: str
    path: str
    staff: bool = False
    server: str = "clinic"  # or "hello" (bench/hello.py) or "peer" (django-appointment)
    public: bool = False  # a page a youth sees: the 30% target applies
    # A booking step sent (POST): the answers so far, and the step the answer must show. The
    # visitor's session cookie and CSRF token come from the first step, fetched once.
    form: tuple[tuple[str, str], ...] = ()
    shows: str = ""


@dataclass(frozen=True)
class Measure:
    page: Page
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: str  # wrk's socket errors or non-2xx/3xx count, when any
    other_cpu: float  # share of the machine's CPU that processes not in the benchmark used
    cpu_ms: float = 0.0  # CPU the serving workers spent per request: what other work disturbs least


@dataclass(frozen=True)
class Run:
    database: Database
    workers: int
    measures: list[Measure]
    worker_peak_kib: int  # VmHWM: the most any worker ever held
    worker_rss_kib: int  # VmRSS after the load: what it holds for good


def main() -> None:
    # Killed with SIGTERM (a timeout, a closed terminal), still run the finally blocks that
    # stop gunicorn: it runs in its own session and would outlive this process.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    began = time.monotonic()
    load_before = os.getloadavg()[0]
    wrk = ensure_wrk()
    OUT.mkdir(parents=True, exist_ok=True)
    runs: list[Run] = []
    seeded: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="clinic-bench-") as tmp:
        peer = set_up_peer(Path(tmp))
        for database in databases(Path(tmp)):
            seeded[database.name] = migrate_and_seed(database)
            for workers in WORKER_COUNTS:
                runs.append(benchmark(wrk, database, workers, peer))
    ten_years = time_ten_years()
    minutes = (time.monotonic() - began) / 60
    load_averages = (load_before, os.getloadavg()[0])
    # bench/reports.py keeps its own "## Reports" section at the end of the file: kept as is.
    kept = ""
    if RESULTS.exists():
        old = RESULTS.read_text()
        at = old.find("\n## Reports\n")
        if at >= 0:
            kept = old[at:]
    written = report(runs, seeded, ten_years, minutes, load_averages, peer).rstrip("\n")
    RESULTS.write_text(written + "\n" + kept)
    print(f"\nWrote {RESULTS.relative_to(ROOT)} in {minutes:.1f} minutes.")


# --- Tools and databases -------------------------------------------------------------------


def ensure_wrk() -> str:
    """wrk from Debian's packages, installed here when running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("wrk is missing. Install it with:  sudo apt-get install -y wrk")
    print("Installing wrk (apt-get install -y wrk)...", flush=True)
    install = ["apt-get", "install", "-y", "wrk"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, env=env).returncode != 0:
        # A fresh machine may have no package lists yet.
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    return shutil.which("wrk") or sys.exit("wrk still missing after apt-get install")


def databases(tmp: Path) -> Iterator[Database]:
    if "sqlite" in DATABASES:
        yield Database("SQLite", f"sqlite:///{tmp / 'bench.sqlite3'}")
    if "postgresql" not in DATABASES:
        return
    postgres = fresh_postgres_database()
    if postgres is not None:
        yield postgres


def fresh_postgres_database() -> Database | None:
    """Recreate the bench database on the local server, or None (loudly) if none answers."""
    import psycopg  # the app's driver, from the venv

    server = urlsplit(POSTGRES_SERVER)
    try:
        admin = psycopg.connect(
            host=server.hostname,
            port=server.port,
            user=server.username,
            dbname="postgres",
            autocommit=True,
            connect_timeout=3,
        )
    except psycopg.OperationalError as error:
        banner = "!" * 78
        print(
            f"\n{banner}\nPostgreSQL SKIPPED: no server answered at {postgres_address()}\n"
            f"  ({error})\n{banner}\n",
            file=sys.stderr,
            flush=True,
        )
        return None
    with admin:
        # FORCE: a previous run that died may have left gunicorn connections behind.
        admin.execute(f"DROP DATABASE IF EXISTS {POSTGRES_DB} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {POSTGRES_DB}")
    return Database("PostgreSQL", POSTGRES_SERVER + POSTGRES_DB)


# --- The peer: django-appointment ----------------------------------------------------------


@dataclass(frozen=True)
class Peer:
    path: str | None  # its booking page, or None when it could not be set up...
    why_not: str = ""  # ...and why
    database: Path | None = None


def set_up_peer(tmp: Path) -> Peer:
    """Install django-appointment in its own venv (once) and give it a fresh SQLite database
    with one service and one staff member (bench/peer/seed.py)."""
    if os.environ.get("BENCH_PEER", "1") == "0":
        return Peer(None, "BENCH_PEER=0")
    print("== peer: django-appointment (own venv in bench/out/peer-venv)", flush=True)
    python = PEER_VENV / "bin" / "python"
    try:
        if not python.exists():
            subprocess.run(
                [sys.executable, "-m", "venv", str(PEER_VENV)], check=True, capture_output=True
            )
        installed = subprocess.run(
            [str(python), "-m", "pip", "freeze"], capture_output=True, text=True
        ).stdout.lower()
        if not all(package.lower() in installed for package in PEER_PACKAGES):
            subprocess.run(
                [str(python), "-m", "pip", "install", "--quiet", *PEER_PACKAGES],
                check=True,
                capture_output=True,
                text=True,
            )
        database = tmp / "peer.sqlite3"
        seeded = subprocess.run(
            [str(python), "seed.py"],
            cwd=PEER_PROJECT,
            env={**os.environ, "PEER_DATABASE": str(database)},
            check=True,
            capture_output=True,
            text=True,
        )
    except subprocess.CalledProcessError as error:
        reason = (error.stderr or error.stdout or "").strip().splitlines()[-1:] or ["?"]
        print(f"   peer SKIPPED: {' '.join(error.cmd)} failed: {reason[0]}", flush=True)
        return Peer(None, f"`{' '.join(map(str, error.cmd))}` failed: {reason[0]}")
    return Peer(seeded.stdout.strip().splitlines()[-1], database=database)


def peer_gunicorn(peer: Peer, workers: int):
    log = OUT / f"gunicorn-peer-{workers}w.log"
    env = {**os.environ, "PEER_DATABASE": str(peer.database)}
    return serve(
        PEER_VENV / "bin" / "gunicorn",
        "wsgi:application",
        workers,
        PEER_PROJECT,
        env,
        log,
        peer.path,
    )


def postgres_address() -> str:
    server = urlsplit(POSTGRES_SERVER)
    return f"{server.hostname}:{server.port}"


def app_env(database: Database) -> dict[str, str]:
    return {
        **os.environ,
        "CLINIC_ENV": "development",
        "DATABASE_URL": database.url,
        "SECRET_KEY": "bench-only-not-secret",
        # The limiter runs (its cost is part of a page's), with a limit wrk never reaches.
        "AVAILABILITY_LIMIT_PER_ADDRESS": "100000000 per minute",
        # As configured (2 s); BENCH_PAGE_CACHE_SECONDS=0 measures every page rendered afresh.
        "PUBLIC_PAGE_CACHE_SECONDS": PAGE_CACHE_SECONDS,
    }


def migrate_and_seed(database: Database) -> str:
    """Returns seed-demo's summary line."""
    print(f"== {database.name}: migrating and seeding (--scale large)", flush=True)
    flask = [str(BIN / "flask"), "--app", "wsgi"]
    env = app_env(database)
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    started = time.monotonic()
    seed = subprocess.run(
        [*flask, "seed-demo", "--scale", "large"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    last_line = seed.stdout.strip().splitlines()[-1]
    summary = last_line.removeprefix("Demo clinic loaded: ").split(" Staff sign-in")[0].rstrip(".")
    print(f"   {summary} ({time.monotonic() - started:.1f} s)", flush=True)
    return f"{summary} (seeded in {time.monotonic() - started:.1f} s)"


# --- One server, every page ----------------------------------------------------------------


def benchmark(wrk: str, database: Database, workers: int, peer: Peer) -> Run:
    print(f"== {database.name}, {workers} workers", flush=True)
    with contextlib.ExitStack() as servers:
        base, master_pid = servers.enter_context(gunicorn(database, workers))
        bases = {"clinic": base}
        master_of = {"clinic": master_pid}
        bases["hello"], master_of["hello"] = servers.enter_context(hello_gunicorn(workers))
        if peer.path:
            bases["peer"], master_of["peer"] = servers.enter_context(peer_gunicorn(peer, workers))
        masters = list(master_of.values())
        headers = {"User-Agent": USER_AGENT, "Cookie": staff_login(base)}
        youth: dict[str, str] = {}  # the booking visitor's cookie and token, when a step is sent
        best: dict[Page, Measure] = {}
        # With ROUNDS > 1 every page is measured once per round, round after round, and its
        # best round kept: on a shared machine, the round least disturbed by other work.
        to_load = pages(base, peer)
        for round_number in range(ROUNDS):
            for page in to_load:
                page_headers = headers if page.staff else {"User-Agent": USER_AGENT}
                url = bases[page.server] + page.path
                if page.form and not youth:
                    youth.update(booking_visitor(url))
                if page.form:
                    page_headers = {
                        "User-Agent": USER_AGENT,
                        "Cookie": youth["cookie"],
                        "Content-Type": "application/x-www-form-urlencoded",
                    }
                body = urlencode([*page.form, ("csrf_token", youth["token"])]) if page.form else ""
                if round_number == 0:
                    check_page(url, page_headers, body, page.shows)
                    load(wrk, url, page_headers, WARM_UP, body)
                ours = [
                    *masters,
                    *(child for master in masters for child in children(master)),
                    *postgres_backends(database),
                ]
                serving = children(master_of[page.server])
                before = cpu_snapshot(ours)
                serving_before = sum(process_cpu_s(pid) for pid in serving)
                output = load(wrk, url, page_headers, WRK_DURATION, body)
                serving_s = sum(process_cpu_s(pid) for pid in serving) - serving_before
                other_cpu = others_share(before, cpu_snapshot(ours))
                raw = OUT / f"wrk-{database.name}-{workers}w-{slug(page.name)}.txt".lower()
                raw.write_text(output)
                measure = parse_wrk(page, output, other_cpu, serving_s)
                print(
                    f"   {page.name:<18} {measure.requests_per_s:8.1f} req/s  "
                    f"p50 {measure.p50_ms:7.2f} ms  p99 {measure.p99_ms:7.2f} ms  "
                    f"{measure.cpu_ms:6.2f} CPU ms/req  others {other_cpu:4.0%} CPU "
                    f"{measure.errors}",
                    flush=True,
                )
                kept = best.get(page)
                if kept is None or measure.requests_per_s > kept.requests_per_s:
                    kept, measure = measure, kept
                if measure is not None and measure.cpu_ms < kept.cpu_ms:
                    kept = dataclasses.replace(kept, cpu_ms=measure.cpu_ms)  # the least, too
                best[page] = kept
        measures = list(best.values())
        workers_memory = [memory_kib(pid) for pid in children(master_pid)]
    return Run(
        database,
        workers,
        measures,
        worker_peak_kib=max(peak for peak, _ in workers_memory),
        worker_rss_kib=max(rss for _, rss in workers_memory),
    )


def gunicorn(database: Database, workers: int):
    """Serve the app; yields its base URL and the master's pid. Always stops it."""
    log = OUT / f"gunicorn-{database.name}-{workers}w.log".lower()
    return serve(BIN / "gunicorn", "wsgi:app", workers, ROOT, app_env(database), log, "/healthz")


def hello_gunicorn(workers: int):
    """The bare Flask hello-world (bench/hello.py), with the same gunicorn and workers."""
    log = OUT / f"gunicorn-hello-{workers}w.log"
    return serve(BIN / "gunicorn", "hello:app", workers, ROOT / "bench", dict(os.environ), log, "/")


@contextmanager
def serve(
    gunicorn_bin: Path, app: str, workers: int, cwd: Path, env: dict, log: Path, probe: str
) -> Iterator[tuple[str, int]]:
    """Serve ``app`` with sync workers; yields its base URL and the master's pid. Always
    stops it."""
    port = free_port()
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [str(gunicorn_bin), "-w", str(workers), "-b", f"127.0.0.1:{port}", app],
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the workers go with it
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_healthy(base, server, log, probe)
        yield base, server.pid
    finally:
        stop(server)


def free_port() -> int:
    for port in PORTS:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


def wait_until_healthy(base: str, server: subprocess.Popen, log: Path, probe: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({server.returncode}):\n{tail(log)}")
        try:
            if get(base + probe)[0] == 200:
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.1)
    raise RuntimeError(f"gunicorn did not answer {probe} within 30 s:\n{tail(log)}")


def stop(server: subprocess.Popen) -> None:
    """SIGTERM lets gunicorn stop its workers; SIGKILL to the group if it takes too long."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            server.wait(timeout=15)
    with suppress(ProcessLookupError):
        os.killpg(server.pid, signal.SIGKILL)  # any worker left behind
    server.wait()


def staff_login(base: str) -> str:
    """Sign in as the demo front desk the way a browser does; returns the Cookie header."""
    status, headers, body = get(base + "/auth/login", {"User-Agent": USER_AGENT})
    if status != 200:
        raise RuntimeError(f"GET /auth/login answered {status}")
    form = urlencode(
        {"csrf_token": csrf_token(body), "email": STAFF_EMAIL, "password": STAFF_PASSWORD}
    )
    status, headers, _ = request(
        "POST",
        base + "/auth/login",
        {
            "User-Agent": USER_AGENT,
            "Cookie": session_cookie(headers),
            "Content-Type": "application/x-www-form-urlencoded",
        },
        form,
    )
    if status != 303:
        raise RuntimeError(f"staff login failed: POST /auth/login answered {status}")
    return session_cookie(headers)


def pages(base: str, peer: Peer) -> list[Page]:
    """The pages to load, with dates found the way a youth or staff member would."""
    days = get_json(base + "/api/availability")["days"]
    bookable = [
        (day["date"], slot["start"])
        for day in days
        for slot in day["slots"]
        if slot["bookable"] and slot["seats_left"] > 0
    ]
    if not bookable:
        raise RuntimeError("no bookable slot in /api/availability: is the seed too old?")
    day, start = bookable[0]
    found = [
        # The bare Flask app first, then the clinic's own baseline: measured back to back.
        Page("hello-world (bare Flask)", "/", server="hello"),
        Page("hello-world + the clinic's headers", "/with-headers", server="hello"),
        Page("health check", "/healthz"),
        Page("home", "/", public=True),
        Page("days", "/book", public=True),
        Page("times", f"/book/{day}", public=True),
        Page("booking, first step", f"/book/{day}/{start}", public=True),
        # Each later step is a POST of the answers so far, answered with the next step's page.
        Page(
            "booking, about you sent",
            f"/book/{day}/{start}",
            public=True,
            form=(("step", "about"), ("go", "next"), *_chosen(start), *_ABOUT),
            shows="tattoo",
        ),
        Page(
            "booking, tattoo sent",
            f"/book/{day}/{start}",
            public=True,
            form=(("step", "tattoo"), ("go", "next"), *_chosen(start), *_ABOUT, *_TATTOO),
            shows="check",
        ),
        Page("lost link", "/my/lost", public=True),
        Page("waiting list, join", "/waiting-list", public=True),
        Page("availability API", "/api/availability", public=True),
        Page("staff day view", f"/staff/day/{last_clinic_day()}", staff=True),
    ]
    if peer.path:
        found.append(Page("peer: django-appointment booking", peer.path, server="peer"))
    return found


# The answers of a 22-year-old, as the steps' pages send them (ISO birth date: also accepted).
_ABOUT = (
    ("first_name", "Ana"),
    ("last_name", "Bench"),
    ("date_of_birth", "2004-05-01"),
    ("phone", "(415) 555-0134"),
    ("language", "en"),
    ("contact_by", "sms"),
)
_TATTOO = (
    ("tattoo_count", "1"),
    ("tattoo_locations", "hands"),
    ("tattoo_size", "small"),
    ("tattoo_colors", "black"),
    ("tattoo_kind", "amateur"),
    ("tattoo_age_years", "3"),
    ("health_any", "no"),
)


def _chosen(start: str) -> tuple[tuple[str, str], ...]:
    return (("slot_time", start), ("submission_key", "bench-" + "k" * 26))


def booking_visitor(first_step: str) -> dict[str, str]:
    """A youth who opened the first step: their session cookie and the form's CSRF token."""
    status, headers, body = get(first_step, {"User-Agent": USER_AGENT})
    if status != 200:
        raise RuntimeError(f"GET {first_step} answered {status}")
    return {"cookie": session_cookie(headers), "token": csrf_token(body)}


def last_clinic_day() -> date:
    """The latest past clinic day: the seed fills past days, so it is a busy one."""

    today = datetime.now(ZoneInfo(os.environ.get("CLINIC_TZ", "America/Los_Angeles"))).date()
    return clinic_days(today - timedelta(days=40), today - timedelta(days=1))[-1]


def check_page(url: str, headers: dict[str, str], form: str = "", shows: str = "") -> None:
    """wrk counts a redirect as a success: make sure the page itself answers (for a step
    sent, the next step's page, not the same step with errors)."""
    status, _, body = request("POST", url, headers, form) if form else get(url, headers)
    if status != 200 or 'name="password"' in body:
        raise RuntimeError(f"{url} answered {status} (expected the page itself)")
    if shows and f'name="step" value="{shows}"' not in body:
        raise RuntimeError(f"POST {url} did not move on to the {shows} step")


def load(wrk: str, url: str, headers: dict[str, str], duration: str, form: str = "") -> str:
    script = []
    if form:  # wrk sends a body only from a script
        lua = OUT / "post.lua"
        quoted = form.replace("\\", "\\\\").replace('"', '\\"')
        lua.write_text(f'wrk.method = "POST"\nwrk.body = "{quoted}"\n')
        script = ["-s", str(lua)]
    command = [
        wrk,
        *script,
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{duration}",
        "--latency",
        *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
        url,
    ]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_wrk(page: Page, output: str, other_cpu: float, serving_s: float = 0.0) -> Measure:
    def latency(percent: str) -> float:
        found = re.search(rf"^\s*{percent}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no {percent}% latency in wrk's output:\n{output}")
        return float(found[1]) * _UNITS_MS[found[2]]

    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk's output:\n{output}")
    errors = re.findall(r"^\s*(Socket errors: .*|Non-2xx or 3xx responses: .*)$", output, re.M)
    served = re.search(r"^\s*(\d+) requests in", output, re.MULTILINE)
    cpu_ms = serving_s * 1000 / int(served[1]) if served and int(served[1]) else 0.0
    return Measure(
        page, float(rate[1]), latency("50"), latency("99"), "; ".join(errors), other_cpu, cpu_ms
    )


def children(pid: int) -> list[int]:
    """The workers: processes whose parent is gunicorn's master."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # exited meanwhile
            # The command name may hold spaces: the fields after its ')' are fixed.
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    if not found:
        raise RuntimeError(f"gunicorn {pid} has no workers")
    return found


# --- Is anything else using the machine? --------------------------------------------------
#
# Another process busy on these 2 cores (a test suite, a build) lowers every number, so each
# measurement records the CPU that the machine spent outside the benchmark: gunicorn, its
# workers, their PostgreSQL backends and wrk (a child of this process).

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    machine_busy_s: float
    ours_s: float


def cpu_snapshot(pids: list[int]) -> CpuSnapshot:
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    ours = sum(process_cpu_s(pid) for pid in pids)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)  # wrk, once it has exited
    return CpuSnapshot(
        time.monotonic(),
        (sum(fields[:8]) - idle) / TICKS,  # user through steal; guest time is inside user
        ours + children.ru_utime + children.ru_stime,
    )


def others_share(before: CpuSnapshot, after: CpuSnapshot) -> float:
    others = (after.machine_busy_s - before.machine_busy_s) - (after.ours_s - before.ours_s)
    return max(others, 0.0) / ((after.at - before.at) * cpu_count())


def process_cpu_s(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0  # exited
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def postgres_backends(database: Database) -> list[int]:
    """The server processes answering the benchmark's database (gunicorn's pools)."""
    if database.name != "PostgreSQL":
        return []
    import psycopg

    server = urlsplit(POSTGRES_SERVER)
    with psycopg.connect(
        host=server.hostname, port=server.port, user=server.username, dbname=POSTGRES_DB
    ) as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (POSTGRES_DB,),
        ).fetchall()
    return [pid for (pid,) in rows]


def memory_kib(pid: int) -> tuple[int, int]:
    """A process's peak (VmHWM) and current (VmRSS) resident memory."""
    status = Path(f"/proc/{pid}/status").read_text()

    def field(name: str) -> int:
        return int(re.search(rf"^{name}:\s+(\d+) kB", status, re.MULTILINE)[1])

    return field("VmHWM"), field("VmRSS")


# --- The pure rules, without the app -------------------------------------------------------


@dataclass(frozen=True)
class Compute:
    days: int
    slots: int
    clinic_days_ms: float
    plans_and_slots_ms: float


def time_ten_years() -> Compute:
    """Best of 5: the least disturbed run, since the code itself does not vary."""

    start = date.today()
    end = start + timedelta(days=3652)

    def best(work) -> tuple[float, object]:
        timings, result = [], None
        for _ in range(5):
            began = time.perf_counter()
            result = work()
            timings.append(time.perf_counter() - began)
        return min(timings) * 1000, result

    def plans_and_slots():
        plans = plan_days(start, end, DayDefaults())
        return plans, [slot for plan in plans for slot in day_slots(plan)]

    days_ms, _ = best(lambda: clinic_days(start, end))
    both_ms, (plans, slots) = best(plans_and_slots)
    return Compute(len(plans), len(slots), days_ms, both_ms)


# --- HTTP, by hand: no redirects followed, cookies under our control -----------------------


def request(
    method: str, url: str, headers: dict[str, str] | None = None, body: str | None = None
) -> tuple[int, dict[str, list[str]], str]:
    parts = urlsplit(url)
    connection = HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, parts.path or "/", body=body, headers=headers or {})
        response = connection.getresponse()
        received: dict[str, list[str]] = {}
        for name, value in response.getheaders():
            received.setdefault(name.lower(), []).append(value)
        return response.status, received, response.read().decode()
    finally:
        connection.close()


def get(url: str, headers: dict[str, str] | None = None):
    return request("GET", url, headers)


def get_json(url: str) -> dict:
    status, _, body = get(url, {"User-Agent": USER_AGENT})
    if status != 200:
        raise RuntimeError(f"GET {url} answered {status}")
    return json.loads(body)


def session_cookie(headers: dict[str, list[str]]) -> str:
    for value in headers.get("set-cookie", []):
        if value.startswith("session="):
            return value.split(";", 1)[0]
    raise RuntimeError("the server set no session cookie")


class _CsrfFinder(HTMLParser):
    token: str | None = None

    def handle_starttag(self, tag, attrs):
        fields = dict(attrs)
        if tag == "input" and fields.get("name") == "csrf_token" and self.token is None:
            self.token = fields.get("value")


def csrf_token(html: str) -> str:
    finder = _CsrfFinder()
    finder.feed(html)
    if not finder.token:
        raise RuntimeError("no csrf_token input on the login page")
    return finder.token


# --- The report ----------------------------------------------------------------------------


def report(
    runs: list[Run],
    seeded: dict[str, str],
    ten_years: Compute,
    minutes: float,
    load_averages: tuple[float, float],
    peer: Peer,
) -> str:
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (bench/run.py); see bench/README.md. One run on one machine:",
        "compare the ratios, which travel between machines better than the raw numbers.",
        "",
        "| | |",
        "| --- | --- |",
        f"| machine | {cpu_count()} CPUs (nproc), {cpu_model()}, {memory_gib():.0f} GiB memory |",
        f"| date | {datetime.now(UTC):%Y-%m-%d %H:%M} UTC |",
        f"| commit | {git_commit()} |",
        f"| software | Python {platform.python_version()}, {tool_version('gunicorn')}, "
        f"{tool_version('wrk')}, SQLite {sqlite3.sqlite_version}"
        f"{postgres_version(runs)} |",
        *(
            f"| data, {name} | `flask seed-demo --scale large`: {line} |"
            for name, line in seeded.items()
        ),
        "| server | `gunicorn -w N wsgi:app`, sync workers, CLINIC_ENV=development; beside it, "
        "`gunicorn -w N hello:app` (bench/hello.py) and the peer |",
        f"| public page cache | PUBLIC_PAGE_CACHE_SECONDS={PAGE_CACHE_SECONDS} "
        + (
            "(every page rendered afresh) |"
            if float(PAGE_CACHE_SECONDS) <= 0
            else "(the same public page served from the worker's memory within that time; "
            "a booking step sent is never kept) |"
        ),
        f"| peer | {peer_line(peer)} |",
        f"| load | `wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_DURATION} --latency` per page, "
        f"after a {WARM_UP} warm-up, from another process on the same machine"
        + (f"; {ROUNDS} rounds, round-robin, best kept" if ROUNDS > 1 else "")
        + " |",
        f"| whole run | {minutes:.1f} minutes |",
        # Anything else busy on the machine lowers every number: this shows whether it was.
        f"| load average (1 min) | {load_averages[0]:.2f} before the run, "
        f"{load_averages[1]:.2f} at its end, the benchmark's own load included |",
        "",
    ]
    if "postgresql" in DATABASES and "PostgreSQL" not in seeded:
        lines += [
            f"**PostgreSQL was skipped: no server answered at {postgres_address()}.**",
            "",
        ]
    for run in runs:
        healthz = next(m for m in run.measures if m.page.path == "/healthz").requests_per_s
        hello = next(m for m in run.measures if m.page.server == "hello").requests_per_s
        dressed = next(m for m in run.measures if m.page.path == "/with-headers").requests_per_s
        lines += [
            f"## {run.database.name}, {run.workers} workers",
            "",
            "| page | req/s | p50 ms | p99 ms | ratio to /healthz | target "
            "| worker CPU ms/req | CPU ratio |",
            "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
        ]
        healthz_cpu = next(m for m in run.measures if m.page.path == "/healthz").cpu_ms
        for m in run.measures:
            mark = " ⚠" if m.errors or m.other_cpu > BUSY_ELSEWHERE else ""
            ratio = m.requests_per_s / healthz
            cpu_ratio = healthz_cpu / m.cpu_ms if m.cpu_ms else 0.0
            lines.append(
                f"| {m.page.name} `{m.page.path}` | {m.requests_per_s:,.0f}{mark} | "
                f"{m.p50_ms:.1f} | {m.p99_ms:.1f} | {ratio:.2f} | {target(m.page, ratio)} | "
                f"{m.cpu_ms:.2f} | {cpu_ratio:.2f} |"
            )
        met = "met" if healthz / hello >= HEALTHZ_TARGET else "MISSED"
        lines += [
            "",
            f"`/healthz` reaches **{healthz / hello:.2f}** of the bare Flask hello-world "
            f"(target {HEALTHZ_TARGET:.2f}: {met}), and **{healthz / dressed:.2f}** of the same "
            "hello-world sending the headers every clinic response must carry.  ",
        ]
        lines += [f"⚠ {m.page.name}: {m.errors}  " for m in run.measures if m.errors]
        lines += [
            f"⚠ {m.page.name}: other processes used {m.other_cpu:.0%} of the machine's CPU "
            "meanwhile; this number is low.  "
            for m in run.measures
            if m.other_cpu > BUSY_ELSEWHERE
        ]
        others = [m.other_cpu for m in run.measures]
        lines += [
            f"CPU used by processes outside the benchmark while measuring: "
            f"{sum(others) / len(others):.0%} of the machine on average, "
            f"{max(others):.0%} at most.  ",
        ]
        lines += [
            f"Worker peak memory: {run.worker_peak_kib / 1024:.1f} MiB (largest VmHWM of the "
            f"{run.workers} workers, read after the load; resident then: "
            f"{run.worker_rss_kib / 1024:.1f} MiB).",
            "",
        ]
    lines += [
        "## Ten years of schedule, pure rules (no app, no database)",
        "",
        f"From today: {ten_years.days} clinic days, {ten_years.slots:,} slots. Best of 5 runs.",
        "",
        "| computation | ms |",
        "| --- | ---: |",
        f"| `clinic_days` (the dates) | {ten_years.clinic_days_ms:.1f} |",
        f"| `plan_days` + `day_slots` (dates, plans and every slot) | "
        f"{ten_years.plans_and_slots_ms:.1f} |",
        "",
        "## Worker peak memory",
        "",
        "| database | workers | peak (VmHWM) MiB | resident after the load (VmRSS) MiB |",
        "| --- | ---: | ---: | ---: |",
        *(
            f"| {run.database.name} | {run.workers} | {run.worker_peak_kib / 1024:.1f} | "
            f"{run.worker_rss_kib / 1024:.1f} |"
            for run in runs
        ),
        "",
        "## How to read this",
        "",
        f"- The machine has {cpu_count()} cores, and wrk shares them with gunicorn: every",
        "  number is the app and the load generator competing for the same CPUs. More workers",
        "  than cores mostly adds context switches, so 4 workers need not beat 2 here.",
        "- `/healthz` is the clinic answering without templates or the database, through every",
        "  hook a page goes through (security headers, session, limits): the ceiling of the",
        "  clinic's stack on this machine. A page's ratio is the share of that ceiling it",
        "  reaches; 0.25 means each request costs about four health checks. The targets",
        f"  (issue 15): public pages {PUBLIC_TARGET:.2f}, the staff day view {STAFF_TARGET:.2f}.",
        "- hello-world (bench/hello.py) is a bare Flask app under the same gunicorn: what",
        "  Flask and gunicorn cost alone. `/healthz` against it is the clinic's own per-request",
        f"  overhead (target {HEALTHZ_TARGET:.2f}). The same app sending the security headers",
        "  every clinic response carries (`/with-headers`) shows what those headers alone cost",
        "  (gunicorn checks and writes each one): the part of the gap no code change can close.",
        "- Worker CPU ms/req is the CPU the serving workers spent per request (from /proc),",
        "  and CPU ratio is `/healthz`'s divided by the page's: other work on the machine",
        "  lowers req/s much more than it changes these, so they compare runs on a busy machine",
        "  better. They leave out what a request waits for without CPU (a commit's fsync) and",
        "  what the load generator and the kernel spend on each connection.",
        "- The peer is django-appointment's booking page (a service with one staff member, so",
        "  the page computes the day's free slots), in Django's production mode on SQLite, under",
        "  the same gunicorn and load; its ratio is to the clinic's `/healthz`.",
        "- p50 and p99 are wrk's latency percentiles over all",
        f"  {WRK_CONNECTIONS} connections; with more connections than workers, requests queue,",
        "  so latency includes waiting for a free worker.",
        "- The staff day view is a past clinic day, nearly full (the seed fills past days); the",
        "  public pages use the first bookable day and time.",
        "- VmHWM is a worker's high-water mark, so it keeps transient peaks: hashing a password",
        "  with scrypt (werkzeug's default) takes 32 MiB for a moment, and each worker hashes one",
        "  as it starts (the sign-in page's dummy hash). VmRSS after the load is its lasting size.",
        "- ⚠ marks a number measured while processes outside the benchmark (a test suite, a",
        f"  build) used more than {BUSY_ELSEWHERE:.0%} of the machine's CPU: it is lower than the",
        "  app can do; run `make bench` again on a quiet machine.",
        "- Raw wrk output and gunicorn logs of the last run are in bench/out/ (not committed).",
        "",
    ]
    return "\n".join(lines)


def target(page: Page, ratio: float) -> str:
    wanted = PUBLIC_TARGET if page.public else STAFF_TARGET if page.staff else None
    if wanted is None:
        return ""
    return f"{'met' if ratio >= wanted else 'MISSED'} (≥ {wanted:.2f})"


def peer_line(peer: Peer) -> str:
    if not peer.path:
        return f"not measured: {peer.why_not}"
    return (
        f"{', '.join(PEER_PACKAGES)} in bench/out/peer-venv; `gunicorn -w N wsgi:application` "
        f"(bench/peer/), DEBUG off, SQLite; `{peer.path}`"
    )


def cpu_count() -> int:
    return len(os.sched_getaffinity(0))


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def memory_gib() -> float:
    meminfo = Path("/proc/meminfo").read_text()
    return int(re.search(r"^MemTotal:\s+(\d+) kB", meminfo, re.MULTILINE)[1]) / 1024**2


def git_commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    # Numbers from a work tree with changes belong to no commit: say so.
    return commit + (" + uncommitted changes" if git("status", "--porcelain") else "")


def tool_version(name: str) -> str:
    if name == "wrk":
        found = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        version = re.search(r"wrk (\S+)", found.stdout + found.stderr)
        return f"wrk {version[1] if version else '?'}"
    found = subprocess.run([str(BIN / name), "--version"], capture_output=True, text=True)
    return found.stdout.strip().replace("(version ", "").rstrip(")")


def postgres_version(runs: list[Run]) -> str:
    if not any(run.database.name == "PostgreSQL" for run in runs):
        return ""
    import psycopg

    server = urlsplit(POSTGRES_SERVER)
    with psycopg.connect(
        host=server.hostname, port=server.port, user=server.username, dbname=POSTGRES_DB
    ) as connection:
        return f", PostgreSQL {connection.execute('SHOW server_version').fetchone()[0]}"


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


if __name__ == "__main__":
    main()
