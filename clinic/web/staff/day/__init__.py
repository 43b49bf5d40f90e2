"""The clinic day screen: the day sheet, the live queue, every move on it, treatments and
walk-ins (``clinic.clinic_day``).

May import the capabilities, the staff blueprint (``bp``, ``requires``) and the shared web
modules; never another screen."""
