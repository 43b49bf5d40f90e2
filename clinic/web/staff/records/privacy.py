"""Staff pages for a youth's rights (admin, ``MANAGE_PRIVACY``): download everything the
clinic holds about them, and erase their personal data on request (a confirmation page, then
a POST). The id is in the path, as on the record page; nothing personal goes in a URL.
"""

from __future__ import annotations

import json

from flask import Response, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from wtforms import BooleanField
from wtforms.validators import DataRequired

from clinic.permissions import Action
from clinic.records import privacy
from clinic.web import context, limits
from clinic.web.forms import ClinicForm
from clinic.web.staff import bp, requires


class EraseForm(ClinicForm):
    confirm = BooleanField(
        _l("I have checked that this is the youth who asked, and their data is to be erased"),
        validators=[DataRequired(message=_l("Please tick the box to confirm."))],
    )


@bp.get("/youth/<int:youth_id>/export")
@limits.staff_record_reads()
@requires(Action.MANAGE_PRIVACY)
def youth_export(youth_id: int):
    """One youth's data as a JSON file to download (recorded in the audit trail)."""
    document = privacy.export_youth(youth_id, current_user, context.now())
    if document is None:
        abort(404)
    body = json.dumps(document, ensure_ascii=False, indent=2)
    response = Response(body + "\n", mimetype="application/json")
    name = f"youth-record-{document['Record']['Record number']}.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _erase_page(form: EraseForm, preview: privacy.ErasurePreview, status: int = 200):
    return render_template("staff/records/erase.html", form=form, preview=preview), status


@bp.get("/youth/<int:youth_id>/erase")
@limits.staff_record_reads()
@requires(Action.MANAGE_PRIVACY)
def erase_youth_confirm(youth_id: int):
    """What erasing will remove and keep, and the box to tick."""
    preview = privacy.erasure_preview(youth_id, current_user, context.now().date())
    if preview is None:
        abort(404)
    if preview.youth_id != youth_id:  # a merged record: the one it was merged into
        return redirect(url_for("staff.erase_youth_confirm", youth_id=preview.youth_id))
    return _erase_page(EraseForm(), preview)


@bp.post("/youth/<int:youth_id>/erase")
@requires(Action.MANAGE_PRIVACY)
def erase_youth(youth_id: int):
    now = context.now()
    preview = privacy.erasure_preview(youth_id, current_user, now.date())
    if preview is None:
        abort(404)
    form = EraseForm()
    if not form.validate():
        return _erase_page(form, preview, 422)
    if preview.purged_at is not None:  # erased meanwhile (a second tab): nothing more to do
        return redirect(url_for("staff.youth_record", youth_id=preview.youth_id), code=303)
    try:
        privacy.erase_on_request(preview.youth_id, current_user, context.rules(), now)
    except LookupError:
        abort(404)
    except privacy.ErasureRefused:
        refreshed = privacy.erasure_preview(youth_id, current_user, now.date())
        return _erase_page(form, refreshed or preview, 409)
    flash(_("The youth's personal data was erased. The anonymous visit counts stay."), "success")
    return redirect(url_for("staff.youth_record", youth_id=preview.youth_id), code=303)
