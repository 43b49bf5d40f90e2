"""The staff accounts screens (admin), each person's own password, and the settings page
(``clinic.accounts``)."""
