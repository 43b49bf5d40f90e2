"""A youth's details changed by staff: the old values kept (encrypted where the column is).

Revision ID: 16a0c4a00001
Revises: 14d4be000004
Create Date: 2026-12-06 21:40:00

``old_value`` holds a Fernet token (clinic/crypto.py ``EncryptedText``, a text column to the
database), written by the app: the table starts empty, so nothing is encrypted here.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "16a0c4a00001"
down_revision = "14d4be000004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "youth_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("youth_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=30), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["youth_id"], ["youth.id"], name=op.f("fk_youth_change_youth_id_youth")
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"], ["staff_user.id"], name=op.f("fk_youth_change_staff_id_staff_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_youth_change")),
    )
    op.create_index("ix_youth_change_youth_id", "youth_change", ["youth_id", "id"], unique=False)


def downgrade():
    op.drop_index("ix_youth_change_youth_id", table_name="youth_change")
    op.drop_table("youth_change")
