"""Editing a youth's details (issue 16): contact, names, language, channel, guardian.

Thin views over ``clinic.records.edit``: read the form, call the use case, then redirect (303)
to the record, or show the form again with 422 and the reason next to the field, every value
kept. The flash names the fields saved, never their values (flashes travel in the cookie).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from clinic import audit, records, vocab
from clinic.permissions import Action
from clinic.rules.eligibility import normalize_phone
from clinic.rules.messages import choose_channel
from clinic.web import context
from clinic.web.staff import bp, requires
from clinic.web.staff.records.forms import EditYouthForm, UseNewDetailsForm

# Each editable field as the record's history and the flashes name it.
FIELD_LABELS = {
    "preferred_name": _l("Goes by"),
    "phone": _l("Phone"),
    "email": _l("Email"),
    "language": _l("Language"),
    "contact_by": _l("Messages by"),
    "guardian_name": _l("Guardian's name"),
    "guardian_relationship": _l("Guardian's relationship"),
    "guardian_phone": _l("Guardian's phone"),
}

# Where each refusal is said: (field, message); None: at the top of the form.
REFUSALS = {
    records.EditRefused.CHANGED_MEANWHILE: (
        None,
        _l(
            "Someone changed this record while you were editing it. Its details now are shown "
            "below your changes: check them, then save again."
        ),
    ),
    records.EditRefused.NO_CONTACT: (
        "phone",
        _l("Please give a phone number or an email, so the clinic can reach them."),
    ),
    records.EditRefused.NO_EMAIL: (
        "email",
        _l("Please give their email, or choose text messages."),
    ),
    records.EditRefused.GUARDIAN_HALF: (
        "guardian_name",
        _l("Please give the guardian's name, relationship and phone, or none of them."),
    ),
    records.EditRefused.GUARDIAN_REQUIRED: (
        "guardian_name",
        _l(
            "The youth is under %(age)d: the parent or guardian on file can be replaced, "
            "not removed."
        ),
    ),
}


@bp.context_processor
def edit_helpers():
    """For the record page (its history of details) and the contact details it shows."""
    return {"detail_field_labels": FIELD_LABELS, "channel_labels": dict(vocab.CONTACT_CHANNELS)}


def _labels():
    return {
        "language": dict(vocab.LANGUAGES),
        "relationship": dict(vocab.GUARDIAN_RELATIONSHIPS),
        "channel": dict(vocab.CONTACT_CHANNELS),
        "field": FIELD_LABELS,
    }


def _fill(form: EditYouthForm, details: records.YouthDetails, drawn: str) -> None:
    """The form as the record holds it. A record that never chose a channel shows the one its
    messages go by (saving that unchanged keeps it unchosen: see the use case)."""
    for name in records.EDITABLE_FIELDS:
        getattr(form, name).data = getattr(details, name) or ""
    form.contact_by.data = details.contact_by or choose_channel(None, details.phone, details.email)
    form.drawn.data = drawn


def _details(form: EditYouthForm) -> records.YouthDetails:
    """The answers, cleaned as the intake cleans them."""
    text = form.text
    return records.YouthDetails(
        preferred_name=text("preferred_name"),
        phone=normalize_phone(form.phone.data),
        email=text("email"),
        language=form.language.data,
        contact_by=form.contact_by.data or None,
        guardian_name=text("guardian_name"),
        guardian_relationship=text("guardian_relationship"),
        guardian_phone=normalize_phone(form.guardian_phone.data),
    )


def _saved(changed: list[str]) -> None:
    if changed:
        names = ", ".join(str(FIELD_LABELS[name]) for name in changed)
        flash(_("Details saved: %(fields)s.", fields=names), "success")
    else:
        flash(_("Nothing was changed."), "success")


def _page(form: EditYouthForm, youth: records.EditForm, current=None, status: int = 200):
    return (
        render_template(
            "staff/records/edit.html",
            form=form,
            youth=youth,
            current=current,
            labels=_labels(),
        ),
        status,
    )


@bp.route("/youth/<int:youth_id>/edit", methods=["GET", "POST"])
@requires(Action.EDIT_CONTACT)
def edit_youth(youth_id: int):
    """The youth's details as a form; saved, then back to the record."""
    youth = records.edit_form(youth_id, current_user)
    if youth is None:
        abort(404)
    if isinstance(youth, records.Merged):
        return redirect(url_for("staff.edit_youth", youth_id=youth.into_id), code=303)
    form = EditYouthForm()
    if request.method == "GET":
        _fill(form, youth.details, youth.drawn)
        audit.viewed("youth", youth_id, youth_id)
        return _page(form, youth)
    if not form.validate():
        return _page(form, youth, status=422)
    rules, now = context.rules(), context.now()
    try:
        changed = records.edit_youth(
            youth_id, _details(form), form.drawn.data, current_user, now, rules.ages
        )
    except LookupError:
        abort(404)
    except records.EditRefused as refusal:
        if refusal.reason == records.EditRefused.ERASED:
            abort(404)
        current = None
        if refusal.reason == records.EditRefused.CHANGED_MEANWHILE:
            # What is on the record now, beside what was typed; saving again takes the typed.
            latest = records.edit_form(youth_id, current_user)
            if not isinstance(latest, records.EditForm):
                abort(404)
            current, form.drawn.data = latest.details, latest.drawn
        _refuse(form, refusal.reason)
        return _page(form, youth, current, status=422)
    _saved(changed)
    return redirect(url_for("staff.youth_record", youth_id=youth_id), code=303)


def _refusal_text(reason: str) -> str:
    return str(REFUSALS[reason][1]) % {"age": context.rules().ages.adult}


def _refuse(form: EditYouthForm, reason: str) -> None:
    name = REFUSALS[reason][0]
    message = _refusal_text(reason)
    if name is None:
        form.form_errors.append(message)
    else:
        field = getattr(form, name)
        field.errors = [*field.errors, message]


@bp.post("/youth/<int:youth_id>/use-new-details")
@requires(Action.EDIT_CONTACT)
def use_new_details(youth_id: int):
    """The record's "use the new details": the latest booking's contact onto the record."""
    form = UseNewDetailsForm()
    back = redirect(url_for("staff.youth_record", youth_id=youth_id), code=303)
    if not form.validate():
        flash(_("Something went wrong with this button. Please try again."), "error")
        return back
    rules, now = context.rules(), context.now()
    try:
        changed = records.use_new_details(
            youth_id, form.intake_id.data, form.drawn.data, current_user, now, rules.ages
        )
    except LookupError:
        abort(404)
    except records.EditRefused as refusal:
        if refusal.reason == records.EditRefused.ERASED:
            abort(404)
        if refusal.reason in (
            records.EditRefused.CHANGED_MEANWHILE,
            records.EditRefused.NOTHING_NEW,
        ):
            flash(
                _("The record or its latest booking changed meanwhile. Please check it again."),
                "error",
            )
        else:  # the new details break a rule (a minor's guardian, no contact): edit by hand
            flash(
                _(
                    "%(reason)s Please edit the details instead.",
                    reason=_refusal_text(refusal.reason),
                ),
                "error",
            )
        return back
    _saved(changed)
    return back
