"""Messages to youth: confirmations, reminders, cancellations, moves and aftercare, what they
did from their link, and their standby and waiting-list places and offered seats, by e-mail
or text, in the youth's language, each with a fresh link to what it is about (``links``).

Inside, by caller: ``outbox`` is what the use cases call inside their own transaction (a
message is a row committed with the change that causes it); ``worker`` is what ``flask outbox
run`` runs (claims, sends, retries); ``history`` is the staff page's reads and "send again".
The worker writes each message with ``texts``, attaches ``ics`` calendar files and sends
through ``transports`` (SMTP, Twilio). When to remind and how long to back off are pure rules
in ``clinic.rules.messages``.

May import: ``clinic.rules``, ``models``, ``database``, ``extensions``, ``settings`` and
``formats``; no other capability (the use cases call in, never the other way) and never the
web.
"""
