"""Exit 0 if a PostgreSQL server answers at the URL given (`make test` then runs the suite on
it too), 1 with the reason otherwise."""

import sys

import psycopg
from sqlalchemy import make_url


def main(url: str) -> int:
    parts = make_url(url)
    try:
        psycopg.connect(
            host=parts.host,
            port=parts.port or 5432,
            user=parts.username,
            password=parts.password,
            dbname=parts.database,
            connect_timeout=3,
        ).close()
    except psycopg.Error as error:
        print(f"PostgreSQL at {parts.host}:{parts.port}: {error}".strip(), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
