"""The operator console: people's accounts (``users``), their browser sessions
(``console_sessions``, stored as hashes of the cookie's token) and the console's audit log
(``console_audit``: sign-ins, sign-outs and every action, with who took it).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), sa.Identity(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False, unique=True),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("created_at", _TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("created_by", sa.String(), nullable=False),
        sa.Column("disabled_at", _TS, nullable=True),
        sa.Column("password_changed_at", _TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("last_login_at", _TS, nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("locked_until", _TS, nullable=True),
        sa.CheckConstraint("role IN ('operator', 'admin', 'viewer')", name="users_role"),
    )
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(), primary_key=True),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("csrf_token", sa.String(), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("last_seen_at", _TS, nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("user_agent", sa.String(), nullable=True),
    )
    op.create_index("ix_console_sessions_user", "console_sessions", ["user_id"])
    op.create_table(
        "console_audit",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column("at", _TS, nullable=False, server_default=sa.text("now()")),
        sa.Column("user_name", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("target", sa.String(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("outcome", sa.String(), nullable=False),
        sa.Column(
            "detail",
            sa.dialects.postgresql.JSONB(),
            nullable=False,
            server_default=sa.text("'{}'::jsonb"),
        ),
    )
    op.create_index("ix_console_audit_target", "console_audit", ["target", "at"])
    op.create_index("ix_console_audit_user", "console_audit", ["user_name", "at"])


def downgrade() -> None:
    op.drop_table("console_audit")
    op.drop_table("console_sessions")
    op.drop_table("users")
