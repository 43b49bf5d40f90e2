"""The clinician roster: which clinicians work which clinic day.

Revision ID: 16b0e5b00002
Revises: 16a0c4a00001
Create Date: 2026-12-06 21:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '16b0e5b00002'
down_revision = '16a0c4a00001'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
