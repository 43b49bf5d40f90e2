"""The intake form's fixed answers: stored codes and their translated labels.

Codes are what the database keeps (stable across languages); labels are what people read.
"""

from flask_babel import lazy_gettext as _l

LANGUAGES = [("en", "English"), ("es", "Español")]  # each language named in itself
CONTACT_CHANNELS = [("sms", _l("Text message")), ("email", _l("Email"))]

TATTOO_LOCATIONS = [
    ("face_neck", _l("Face or neck")),
    ("hands", _l("Hands or fingers")),
    ("arms", _l("Arms")),
    ("chest_back", _l("Chest, stomach or back")),
    ("legs", _l("Legs or feet")),
    ("other", _l("Somewhere else")),
]

TATTOO_SIZES = [
    ("small", _l("Small (smaller than a credit card)")),
    ("medium", _l("Medium (up to the size of a hand)")),
    ("large", _l("Large (bigger than a hand)")),
]

TATTOO_COLORS = [
    ("black", _l("Black or blue-black only")),
    ("some_color", _l("Black with some colour")),
    ("color", _l("Mostly colour")),
]

TATTOO_KINDS = [
    ("amateur", _l("Amateur (done by a friend, at home, or in custody)")),
    ("professional", _l("Professional (done in a tattoo shop)")),
    ("unsure", _l("Not sure")),
]

# Screening answers are flags for the clinician, never reasons to refuse a booking.
SCREENING_FLAGS = [
    ("pregnant", _l("I am pregnant or breastfeeding")),
    ("retinoids", _l("I took isotretinoin (Accutane) or another acne pill in the last 12 months")),
    ("photosensitizing", _l("I take medicine that makes skin sensitive to light")),
    ("gold_therapy", _l("I have had gold therapy")),
    ("chemotherapy", _l("I had chemotherapy in the last 6 months")),
    ("immune", _l("I have an autoimmune disease or a weak immune system")),
    ("keloids", _l("I get keloids (raised scars) or heal slowly")),
    ("herpes", _l("I have had cold sores or herpes near the tattoo")),
    ("tan", _l("The tattooed skin is tanned or sunburned right now")),
    ("diabetes", _l("I have diabetes")),
    ("ink_allergy", _l("I am allergic to tattoo ink")),
]

REFERRAL_SOURCES = [
    ("self", _l("I found it myself")),
    ("friend", _l("A friend or family member")),
    ("court", _l("A court")),
    ("probation", _l("A probation officer")),
    ("case_manager", _l("A case manager or social worker")),
    ("job_program", _l("A job training or employment program")),
    ("reentry", _l("A re-entry program")),
    ("school", _l("A school")),
    ("other", _l("Other")),
]

GUARDIAN_RELATIONSHIPS = [
    ("parent", _l("Parent")),
    ("legal_guardian", _l("Legal guardian")),
    ("other_relative", _l("Other relative with legal custody")),
    ("foster", _l("Foster parent or agency")),
]
