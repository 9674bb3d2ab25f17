"""The team an alert's own label names, for alert analytics per team.

Only the label is stored: the service -> team mapping (``analytics.teams``) is
applied when analytics are asked, so editing it re-attributes past alerts.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add alerts.team ('' for alerts stored before, and for alerts without the label)."""
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.add_column(
            sa.Column("team", sa.String(256), nullable=False, server_default=sa.text("''"))
        )


def downgrade() -> None:
    """Drop alerts.team."""
    with op.batch_alter_table("alerts") as batch_op:
        batch_op.drop_column("team")
