"""The demo clinic's fixed people: staff accounts with a public password, names from a short
list (no real person), and appointment codes drawn from a seeded generator, so every run of
``seed-demo`` gives the same clinic."""

from __future__ import annotations

import random

from clinic import vocab
from clinic.booking import CODE_ALPHABET
from clinic.models import StaffRole

DEMO_PASSWORD = "demo-clinic-2026"  # demo accounts; seed-demo refuses production  # nosec B105


# The form's tattoo places, bar "somewhere else", which would need a note.
DEMO_LOCATIONS = [code for code, _label in vocab.TATTOO_LOCATIONS if code != "other"]


DEMO_STAFF = [
    ("admin@clinic.example", "Alex Admin", StaffRole.ADMIN),
    ("frontdesk@clinic.example", "Frankie Front Desk", StaffRole.FRONT_DESK),
    ("clinician@clinic.example", "Dr. Casey Clinician", StaffRole.CLINICIAN),
]


# Deterministic demo people: a fixed seed, names from a short list, no real person.
FIRST_NAMES = [
    "Ana",
    "Luis",
    "Maya",
    "Jorge",
    "Destiny",
    "Marcus",
    "Sofía",
    "Kevin",
    "Iris",
    "Ángel",
    "Jasmine",
    "Diego",
    "Tiana",
    "Carlos",
    "Leilani",
    "Mateo",
    "Nia",
    "Oscar",
]


LAST_NAMES = [
    "García",
    "Nguyen",
    "Johnson",
    "Hernández",
    "Lee",
    "Martínez",
    "Williams",
    "Flores",
    "Tran",
    "Ramírez",
    "Brown",
    "Castillo",
    "Davis",
    "Morales",
    "Chen",
    "Reyes",
]


def demo_code(rng: random.Random, taken: set[str]) -> str:
    while True:
        code = "".join(rng.choice(CODE_ALPHABET) for _ in range(6))
        if code not in taken:
            taken.add(code)
            return code
