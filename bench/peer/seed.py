"""Migrate (the package ships no migrations: its README has the project make them), then add
one service and one staff member who works every day, as the README's quick start has an admin
create them: the booking page then computes today's free slots for that staff member. Prints
the booking page's path."""

import os
from datetime import time, timedelta

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
django.setup()

from django.core.management import call_command  # noqa: E402

call_command("makemigrations", "appointment", verbosity=0)
call_command("migrate", verbosity=0)

from appointment.models import Service, StaffMember, WorkingHours  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402

user = get_user_model().objects.create_user(
    username="laser", email="laser@peer.example", first_name="Laser", last_name="One"
)
service = Service.objects.create(
    name="Laser tattoo removal", duration=timedelta(minutes=20), price=0
)
staff = StaffMember.objects.create(
    user=user,
    slot_duration=20,
    lead_time=time(8, 0),
    finish_time=time(20, 0),
    work_on_saturday=True,
    work_on_sunday=True,
)
staff.services_offered.add(service)
for day in range(7):
    WorkingHours.objects.create(
        staff_member=staff, day_of_week=day, start_time=time(8, 0), end_time=time(20, 0)
    )
print(f"/appointment/request/{service.id}/")
