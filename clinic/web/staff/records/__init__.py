"""The youth records screens: search, a record, booking a follow-up, merging duplicates
(``clinic.records``).

May import the capabilities, the staff blueprint (``bp``, ``requires``) and the shared web
modules; never another screen."""
