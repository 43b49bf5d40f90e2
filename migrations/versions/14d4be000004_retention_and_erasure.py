"""Retention: purged youth keep only anonymous facts for the reports.

Revision ID: 14d4be000004
Revises: 14c3f2a00003
Create Date: 2026-12-06 07:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '14d4be000004'
down_revision = '14c3f2a00003'
branch_labels = None
depends_on = None


def upgrade():
    # When a youth's personal data was erased (retention or their request).
    with op.batch_alter_table('youth', schema=None) as batch_op:
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(), nullable=True))
    # The age on the visit's day, kept when the birth date is cut to its year.
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('age_at_visit', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('appointment', schema=None) as batch_op:
        batch_op.drop_column('age_at_visit')
    with op.batch_alter_table('youth', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
