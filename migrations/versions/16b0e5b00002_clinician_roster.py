"""The clinician roster: which clinicians work which clinic day.

Revision ID: 16b0e5b00002
Revises: 16a0c4a00001
Create Date: 2026-12-06 21:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "16b0e5b00002"
down_revision = "16a0c4a00001"
branch_labels = None
depends_on = None


def upgrade():
    # No row for any day: every day keeps the seats and stations it had (the settings).
    op.create_table(
        "roster_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["staff_user.id"],
            name=op.f("fk_roster_entry_staff_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_roster_entry")),
        sa.UniqueConstraint("day", "staff_id", name=op.f("uq_roster_entry_day")),
    )
    with op.batch_alter_table("roster_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_roster_entry_staff_id"), ["staff_id"], unique=False)


def downgrade():
    with op.batch_alter_table("roster_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_roster_entry_staff_id"))
    op.drop_table("roster_entry")
