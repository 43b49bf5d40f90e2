"""The role table: each role may do exactly what the clinic's roles need."""

from __future__ import annotations

import pytest

from clinic.permissions import ALLOWED, Action, NotAllowed, Role, can, require

A, D, C = Role.ADMIN, Role.FRONT_DESK, Role.CLINICIAN

# Written out by hand, apart from the table it checks.
EXPECTED = {
    Action.VIEW_DAY: {A, D, C},
    Action.VIEW_RECORDS: {A, D, C},
    Action.SEE_CONTACT: {A, D},
    Action.SEE_CLINICAL: {C},  # screening answers and notes: clinicians only
    Action.CHECK_IN: {A, D},
    Action.MARK_NO_SHOW: {A, D},
    Action.CANCEL: {A, D},
    Action.TREAT: {C},
    Action.BOOK_FOLLOW_UP: {A, D, C},
    Action.BOOK_FOR_CALLER: {A, D},
    Action.MOVE_BOOKING: {A, D},
    Action.MANAGE_LISTS: {A, D},
    Action.EDIT_CONTACT: {A, D},
    Action.MERGE_YOUTH: {A},
    Action.VIEW_MESSAGES: {A, D},
    Action.RESEND_MESSAGE: {A, D},
    Action.MANAGE_SCHEDULE: {A},
    Action.MANAGE_STAFF: {A},
    Action.VIEW_SETTINGS: {A},
    Action.VIEW_AUDIT: {A},  # who saw what is the privacy officer's, not the desk's
    Action.MANAGE_PRIVACY: {A},
    Action.VIEW_REPORTS: {A},  # unless REPORTS_ROLES gives it to another role
    Action.OWN_ACCOUNT: {A, D, C},
}


def test_every_action_has_an_entry():
    assert set(ALLOWED) == set(Action) == set(EXPECTED)


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", list(Role))
def test_the_table(role, action):
    assert can(role, action) is (role in EXPECTED[action])
    assert can(role.value, action) is (role in EXPECTED[action])


@pytest.mark.parametrize("role", [None, "", "superuser", "ADMIN"])
def test_unknown_roles_may_do_nothing(role):
    assert not any(can(role, action) for action in Action)


def test_require_raises_with_the_action():
    require("clinician", Action.TREAT)
    with pytest.raises(NotAllowed) as refused:
        require("front_desk", Action.TREAT)
    assert refused.value.action is Action.TREAT


def test_a_setting_can_give_the_reports_to_another_role():
    grants = {Action.VIEW_REPORTS: frozenset({"front_desk"})}
    assert can("front_desk", Action.VIEW_REPORTS, grants)
    assert not can("clinician", Action.VIEW_REPORTS, grants)
    assert can("admin", Action.VIEW_REPORTS, grants)
    require("front_desk", Action.VIEW_REPORTS, grants)


def test_only_grantable_actions_can_be_given():
    # A setting naming an action outside GRANTABLE gives nothing: the table stays the truth.
    grants = {Action.MANAGE_PRIVACY: frozenset({"front_desk"})}
    assert not can("front_desk", Action.MANAGE_PRIVACY, grants)
    assert not can("superuser", Action.VIEW_REPORTS, {Action.VIEW_REPORTS: frozenset({"x"})})
