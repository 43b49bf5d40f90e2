"""What a view needs from the app besides the request: the clinic's rules and the current
clinic time, read once per request (kept on ``g``), so every use case a request calls sees
the same settings and the same instant; and the translations templates use, found once per
template."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import g
from flask_babel import get_translations
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from clinic import settings
from clinic.rules.policy import ClinicRules


def rules() -> ClinicRules:
    """The clinic's rules as configured, read once per request."""
    if "clinic_rules" not in g:
        g.clinic_rules = settings.current_rules()
    return g.clinic_rules


def now() -> datetime:
    """The current instant in the clinic's time zone, the same for the whole request."""
    if "clinic_now" not in g:
        g.clinic_now = settings.clinic_now(rules())
    return g.clinic_now


def template_translations() -> dict[str, Callable[..., str]]:
    """A context processor: the request's catalogue, looked up once per rendered template
    instead of once per translated string.

    Flask-Babel's own template ``gettext`` finds the catalogue again for every string (the
    request's locale, its domain and its cache, each through ``g``): a tenth of a long page's
    time. These are the same functions, bound to the catalogue of the locale in force when the
    template is rendered (so ``force_locale`` still applies), and they format as Jinja's
    "newstyle" gettext does: escaped under autoescape, ``%(name)s`` filled from keywords.
    Macros imported without context fall back to Flask-Babel's, with the same result.
    """
    catalogue = get_translations()
    return {
        "gettext": _newstyle_gettext(catalogue.ugettext),
        "ngettext": _newstyle_ngettext(catalogue.ungettext),
    }


def _newstyle_gettext(translate: Callable[[str], str]) -> Callable[..., str]:
    @pass_context
    def gettext(__context: Context, __string: str, **variables: Any) -> str:
        text = translate(__string)
        if __context.eval_ctx.autoescape:
            text = Markup(text)  # nosec B704: the catalogue's own text, as Jinja does
        return text % variables  # always a format string, as in Jinja's newstyle gettext

    return gettext


def _newstyle_ngettext(translate: Callable[[str, str, int], str]) -> Callable[..., str]:
    @pass_context
    def ngettext(
        __context: Context, __singular: str, __plural: str, __num: int, **variables: Any
    ) -> str:
        variables.setdefault("num", __num)
        text = translate(__singular, __plural, __num)
        if __context.eval_ctx.autoescape:
            text = Markup(text)  # nosec B704: the catalogue's own text, as Jinja does
        return text % variables

    return ngettext
