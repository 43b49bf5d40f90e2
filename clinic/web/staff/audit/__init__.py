"""The audit trail screen (admin): browse and filter who viewed or changed what, and export a
range as CSV (``clinic.audit``). Read-only: no route here writes to the trail but the record
of an export.

May import the capabilities, the staff blueprint (``bp``, ``requires``) and the shared web
modules; never another screen."""
