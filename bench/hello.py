"""Bare Flask apps answering one constant text, served by bench/run.py under the same
gunicorn, workers and load as the clinic: the ceiling of Flask itself on this machine, to
which the clinic's own /healthz is compared.

``/`` sends no header of its own. ``/with-headers`` sends the headers every clinic response
must carry (clinic/web/headers.py, written here once as the clinic writes them), so that what
those headers alone cost gunicorn and Flask is told apart from the clinic's own work.
"""

import sys
from pathlib import Path

from flask import Flask

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from clinic.web.headers import _ALWAYS, _UNLESS_SET

app = Flask(__name__)

TEXT = {"Content-Type": "text/plain; charset=utf-8"}
# As the clinic sends them to a request without a session cookie.
WITH_HEADERS = {**TEXT, **dict(_UNLESS_SET), **dict(_ALWAYS)}


@app.get("/")
def hello():
    return "ok\n", 200, TEXT


@app.get("/with-headers")
def hello_with_headers():
    return "ok\n", 200, WITH_HEADERS
