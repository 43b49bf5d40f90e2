"""The peer: django-appointment's booking page, served the way bench/run.py serves the clinic.

A minimal Django project around the package, as its README sets it up (the app, its URLs,
Django's own user model), in production mode (DEBUG off), on SQLite. bench/run.py installs it
in its own venv under bench/out/ and points PEER_DATABASE at a file in its temporary folder.
"""

import os

SECRET_KEY = "bench-only-not-secret"  # nosec B105: a benchmark's throwaway project
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "urls"
WSGI_APPLICATION = "wsgi.application"
USE_TZ = True
TIME_ZONE = "America/Los_Angeles"
LANGUAGE_CODE = "en-us"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "appointment",
]

# Django's default stack, as `startproject` writes it.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("PEER_DATABASE", "peer.sqlite3"),
    }
}

EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
APPOINTMENT_WEBSITE_NAME = "Peer clinic"
