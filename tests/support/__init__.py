"""Helpers the tests share, none of them a test: throwaway databases (``databases``), the app
under gunicorn and browsers talking to it (``live``), callables released together and the
invariants a race must leave (``races``), SMTP and Twilio servers on loopback
(``mailservers``), the outbox tests' bookings, worker runs and recording senders (``outbox``),
the youth's intake form through the test client (``intake``), Chromium for the browser tests
(``browsers``), a statement counter for the query budgets (``querycount``), and the check
``make test`` runs before its PostgreSQL pass (``postgres_available``)."""
