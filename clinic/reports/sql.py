"""SQL the reports share that SQLite and PostgreSQL spell differently, written once as
SQLAlchemy constructs so the statements that use them read the same on both databases.

Each construct states its rule in words and compiles to that rule on each dialect; the tests
run them on both databases against the pure rule they mirror.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float, Integer
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class age_on(FunctionElement[int]):
    """``age_on(born, day)``: a person's age in whole years on ``day``, as
    ``clinic.rules.eligibility.age_on`` counts it: the difference of the years, less one if
    ``day``'s month and day come before the birthday's. So a 29 February birthday turns a year
    older on 1 March in common years (28 February still comes before "0229").

    Both arguments are dates: columns, or Python dates (bound as SQL dates). A day before the
    birth gives a negative number, not an error: the caller decides what that means.
    """

    type = Integer()
    inherit_cache = True


def _month_day_before(compiler: SQLCompiler, element: age_on, spell: str, **kw: Any) -> str:
    """The age's SQL from ``spell``, a template over {day} and {born}. Each argument is
    compiled once for each place it appears: a bound date then gets a placeholder per use,
    which SQLite's positional "?" needs."""
    born, day = list(element.clauses)
    return spell.format(
        year_day=compiler.process(day, **kw),
        year_born=compiler.process(born, **kw),
        md_day=compiler.process(day, **kw),
        md_born=compiler.process(born, **kw),
    )


@compiles(age_on, "sqlite")
def _age_on_sqlite(element: age_on, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps dates as ISO text; strftime reads them (and Python dates bound as text).
    # A comparison is 0 or 1 in SQLite, so it subtracts as it is.
    return _month_day_before(
        compiler,
        element,
        "(CAST(strftime('%Y', {year_day}) AS INTEGER)"
        " - CAST(strftime('%Y', {year_born}) AS INTEGER)"
        " - (strftime('%m%d', {md_day}) < strftime('%m%d', {md_born})))",
        **kw,
    )


@compiles(age_on, "postgresql")
def _age_on_postgresql(element: age_on, compiler: SQLCompiler, **kw: Any) -> str:
    # The same arithmetic as SQLite's rather than PostgreSQL's age(): one rule, spelled alike,
    # so a difference between the databases cannot hide in a function's own conventions.
    return _month_day_before(
        compiler,
        element,
        "(CAST(date_part('year', {year_day}) AS INTEGER)"
        " - CAST(date_part('year', {year_born}) AS INTEGER)"
        " - CASE WHEN to_char({md_day}, 'MMDD') < to_char({md_born}, 'MMDD')"
        " THEN 1 ELSE 0 END)",
        **kw,
    )


@compiles(age_on)
def _age_on_elsewhere(element: age_on, compiler: SQLCompiler, **kw: Any) -> str:
    raise CompileError(f"age_on has no SQL for {compiler.dialect.name}: SQLite or PostgreSQL")


class days_between(FunctionElement[float]):
    """Days (fractional) from the second timestamp to the first: the dialects spell it apart."""

    type = Float()
    inherit_cache = True


@compiles(days_between, "sqlite")
def _days_between_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(julianday({later}) - julianday({earlier}))"


@compiles(days_between, "postgresql")
def _days_between_postgresql(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"(EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - "
        f"{compiler.process(earlier, **kw)})) / 86400.0)"
    )
