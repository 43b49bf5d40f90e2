"""The youth records screens: search, a record, booking a follow-up, merging duplicates
(``clinic.records``)."""
