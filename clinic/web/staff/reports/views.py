"""Staff page: the reports (admin, and the roles REPORTS_ROLES grants). A period's figures
beside the period before, as a table and six charts, and the same table to download as CSV or
a spreadsheet. The period is chosen by a GET form, so a report is a link; each page and each
download is recorded in the audit trail with its dates (``clinic.audit``)."""

from __future__ import annotations

from flask import Response, abort, render_template, request

from clinic import audit, settings
from clinic.extensions import db
from clinic.permissions import Action
from clinic.reports import figures
from clinic.rules.reports import Period
from clinic.web import context
from clinic.web.staff import bp, requires
from clinic.web.staff.reports import charts, report_files
from clinic.web.staff.reports.forms import PeriodForm, report_form

FORMATS = {"csv": report_files.report_csv, "xlsx": report_files.report_xlsx}


def _dates(period: Period) -> dict[str, str]:
    return {"start": period.start.isoformat(), "end": period.end.isoformat()}


def _problem_page(form: PeriodForm):
    """The form with what is wrong with it, and no report: 422, as other forms answer."""
    return render_template("staff/reports/index.html", form=form, report=None), 422


@bp.get("/reports")
@requires(Action.VIEW_REPORTS)
def reports():
    form = report_form(request.args, context.now().date())
    if not form.validate():
        return _problem_page(form)
    period = form.period()
    course_sessions = settings.course_sessions()
    report = figures.report(period, context.rules(), context.now().date(), course_sessions)
    audit.viewed("report", None, None, detail=_dates(period))
    return render_template(
        "staff/reports/index.html",
        form=form,
        report=report,
        sections=report_files.report_sections(report, course_sessions),
        charts=charts.report_charts(report),
        args=form.period_args(),
        show=report_files.show,
        show_change=report_files.show_change,
        period_words=report_files.period_words,
    )


@bp.get("/reports/download")
@requires(Action.VIEW_REPORTS)
def report_download() -> Response | tuple[str, int]:
    file_format = request.args.get("format", "csv")  # the plainest file, unless asked
    write = FORMATS.get(file_format)
    if write is None:
        abort(400)
    form = report_form(request.args, context.now().date())
    if not form.validate():
        return _problem_page(form)
    period = form.period()
    course_sessions = settings.course_sessions()
    report = figures.report(period, context.rules(), context.now().date(), course_sessions)
    # On record before the file goes: dates and format only (the file holds figures alone).
    detail = {**_dates(period), "format": file_format}
    audit.record(audit.EXPORT, object_type="report", detail=detail)
    db.session.commit()
    return write(report, course_sessions)
