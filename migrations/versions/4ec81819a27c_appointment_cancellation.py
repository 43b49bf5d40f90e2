"""Appointment cancellation: when, and by which staff account.

Revision ID: 4ec81819a27c
Revises: 308d53186a6a
Create Date: 2026-11-22 11:54:34.220167

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "4ec81819a27c"
down_revision = "308d53186a6a"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("cancelled_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_appointment_cancelled_by_id_staff_user"),
            "staff_user",
            ["cancelled_by_id"],
            ["id"],
        )


def downgrade():
    with op.batch_alter_table("appointment", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_appointment_cancelled_by_id_staff_user"), type_="foreignkey"
        )
        batch_op.drop_column("cancelled_by_id")
        batch_op.drop_column("cancelled_at")
