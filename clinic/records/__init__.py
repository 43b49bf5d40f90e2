"""Youth records: finding a youth (``lookup``), one record as each role may see it
(``record``), editing their details (``edit``), booking their next session from it
(``follow_up``) and merging two records of one youth (``merging``), with the refusals in
``errors``.

Use cases take plain values (the acting staff member, today or ``now``, the rules), read no
request globals, and change data in one transaction each.

May import: ``clinic.rules``, ``models``, ``database``, ``extensions``, ``permissions`` and
``clinic.booking`` (a follow-up is a booking). Never the web. This module is the package's
interface.
"""

from clinic.records.edit import (
    EditForm,
    EditRefused,
    YouthDetails,
    edit_form,
    edit_refusal,
    edit_youth,
    use_new_details,
)
from clinic.records.errors import MergeRefused
from clinic.records.follow_up import FollowUpPlan, Guardian, book_follow_up, follow_up_plan
from clinic.records.lookup import (
    SEARCH_LIMIT,
    PossibleDuplicate,
    QueryKind,
    SearchQuery,
    SearchResult,
    SearchRow,
    parse_query,
    possible_duplicates,
    search,
)
from clinic.records.merging import MergePreview, MergeResult, merge, merge_preview, merge_refusal
from clinic.records.record import (
    CONTACT_FIELDS,
    EDITABLE_FIELDS,
    GUARDIAN_FIELDS,
    NO_SHOW_DAYS,
    ClinicalNotes,
    Contact,
    DetailChange,
    Merged,
    TreatmentEntry,
    VisitEntry,
    YouthRecord,
    latest_intake,
    newer_contact,
    recent_no_shows,
    youth_record,
)

__all__ = [
    "CONTACT_FIELDS",
    "EDITABLE_FIELDS",
    "GUARDIAN_FIELDS",
    "NO_SHOW_DAYS",
    "SEARCH_LIMIT",
    "ClinicalNotes",
    "Contact",
    "DetailChange",
    "EditForm",
    "EditRefused",
    "FollowUpPlan",
    "Guardian",
    "MergePreview",
    "MergeRefused",
    "MergeResult",
    "Merged",
    "PossibleDuplicate",
    "QueryKind",
    "SearchQuery",
    "SearchResult",
    "SearchRow",
    "TreatmentEntry",
    "VisitEntry",
    "YouthDetails",
    "YouthRecord",
    "book_follow_up",
    "edit_form",
    "edit_refusal",
    "edit_youth",
    "follow_up_plan",
    "latest_intake",
    "merge",
    "merge_preview",
    "merge_refusal",
    "newer_contact",
    "parse_query",
    "possible_duplicates",
    "recent_no_shows",
    "search",
    "use_new_details",
    "youth_record",
]
