"""An append-only audit trail of who viewed or changed a youth's data, and staff sign-ins.

Revision ID: 14a1a0d17001
Revises: e3958bc5c193
Create Date: 2026-12-06 07:00:00

The table refuses UPDATE and DELETE by trigger on both databases, so the app's own database
user cannot rewrite the trail. (TRUNCATE is not a row operation and is not refused: the tests
empty their PostgreSQL database with it between tests.)
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "14a1a0d17001"
down_revision = "e3958bc5c193"
branch_labels = None
depends_on = None

_SQLITE_TRIGGERS = [
    f"""
    CREATE TRIGGER audit_event_no_{verb.lower()}
    BEFORE {verb} ON audit_event
    BEGIN
        SELECT RAISE(ABORT, 'audit_event is append-only');
    END
    """
    for verb in ("UPDATE", "DELETE")
]

_POSTGRES_TRIGGER = [
    """
    CREATE FUNCTION audit_event_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_event is append-only';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_event_append_only
    BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
    """,
]


def upgrade():
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=10), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("object_type", sa.String(length=20), nullable=True),
        sa.Column("object_id", sa.Integer(), nullable=True),
        sa.Column("youth_id", sa.Integer(), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("address", sa.String(length=45), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "actor IN ('staff', 'youth', 'system')", name=op.f("ck_audit_event_actor")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"], unique=False)
    op.create_index("ix_audit_event_staff_at", "audit_event", ["staff_id", "at"], unique=False)
    op.create_index("ix_audit_event_youth_at", "audit_event", ["youth_id", "at"], unique=False)
    statements = (
        _POSTGRES_TRIGGER if op.get_bind().dialect.name == "postgresql" else _SQLITE_TRIGGERS
    )
    for statement in statements:
        op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit_event_no_delete")
    op.drop_index("ix_audit_event_youth_at", table_name="audit_event")
    op.drop_index("ix_audit_event_staff_at", table_name="audit_event")
    op.drop_index("ix_audit_event_at", table_name="audit_event")
    op.drop_table("audit_event")
