"""Youth records: finding a youth (``lookup``), one record as each role may see it
(``record``), booking their next session from it (``follow_up``) and merging two records of
one youth (``merging``), with the refusals in ``errors``.

Use cases take plain values (the acting staff member, today or ``now``, the rules), read no
request globals, and change data in one transaction each.

May import: ``clinic.rules``, ``models``, ``database``, ``extensions``, ``permissions`` and
``clinic.booking`` (a follow-up is a booking). Never the web. This module is the package's
interface.
"""

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
    GUARDIAN_FIELDS,
    ClinicalNotes,
    Contact,
    Merged,
    TreatmentEntry,
    VisitEntry,
    YouthRecord,
    latest_intake,
    youth_record,
)

__all__ = [
    "CONTACT_FIELDS",
    "GUARDIAN_FIELDS",
    "SEARCH_LIMIT",
    "ClinicalNotes",
    "Contact",
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
    "YouthRecord",
    "book_follow_up",
    "follow_up_plan",
    "latest_intake",
    "merge",
    "merge_preview",
    "merge_refusal",
    "parse_query",
    "possible_duplicates",
    "search",
    "youth_record",
]
