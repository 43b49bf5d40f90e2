"""Reports: the referral source's blind index, and the list indexes the reports read by.

The referral source stays encrypted; ``referral_index`` (a keyed HMAC of its code, see
``clinic.crypto.referral_index``) lets the reports count youth by referral in SQL. Existing
intakes are indexed here, in batches, decrypting with the app's keys (run it through
``flask db upgrade``, which has them).

Revision ID: 17a0f1c00001
Revises: 16b0e5b00002
Create Date: 2026-12-07 00:20:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "17a0f1c00001"
down_revision = "16b0e5b00002"
branch_labels = None
depends_on = None

BATCH = 500


def upgrade():
    with op.batch_alter_table("intake", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referral_index", sa.String(length=64), nullable=True))
    with op.batch_alter_table("list_entry", schema=None) as batch_op:
        batch_op.create_index("ix_list_entry_kind_joined", ["kind", "joined_at"], unique=False)
        batch_op.create_index("ix_list_entry_kind_closed", ["kind", "closed_at"], unique=False)
    _index_referrals(op.get_bind())


def _index_referrals(connection):
    from clinic import crypto  # the app's keys: flask db upgrade runs in its context

    intake = sa.table(
        "intake",
        sa.column("id", sa.Integer),
        sa.column("referral_source", sa.Text),
        sa.column("referral_index", sa.String),
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(intake.c.id, intake.c.referral_source)
            .where(intake.c.id > last)
            .order_by(intake.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            intake.update()
            .where(intake.c.id == sa.bindparam("row_id"))
            .values(referral_index=sa.bindparam("index")),
            [
                {
                    "row_id": row_id,
                    "index": crypto.referral_index(crypto.decrypt(token) if token else None),
                }
                for row_id, token in rows
            ],
        )
        last = rows[-1][0]


def downgrade():
    with op.batch_alter_table("list_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_list_entry_kind_closed")
        batch_op.drop_index("ix_list_entry_kind_joined")
    with op.batch_alter_table("intake", schema=None) as batch_op:
        batch_op.drop_column("referral_index")
