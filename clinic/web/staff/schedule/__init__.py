"""The schedule screens (admin): the coming clinic days, one date's editor and the call list of
a change's cancellations (``clinic.schedule``)."""
