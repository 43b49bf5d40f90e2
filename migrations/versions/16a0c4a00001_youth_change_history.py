"""A youth's details changed by staff: the old values kept (encrypted where the column is).

Revision ID: 16a0c4a00001
Revises: 14d4be000004
Create Date: 2026-12-06 21:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '16a0c4a00001'
down_revision = '14d4be000004'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
