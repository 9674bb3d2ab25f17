"""The first schema.

Incidents (versions and current state), anomalies, predictions, feedback, alerts,
dead letters and API tokens.


Revision ID: 0001
Revises: none
"""

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this change."""
    op.create_table('alerts',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=256), nullable=False),
    sa.Column('rule', sa.String(length=256), nullable=False),
    sa.Column('service', sa.String(length=256), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('starts_ns', sa.BigInteger(), nullable=False),
    sa.Column('event_ns', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_event', ['event_ns'])
        batch_op.create_index('ix_alerts_fingerprint', ['fingerprint'])

    op.create_table('anomalies',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('series', sa.Text(), nullable=False),
    sa.Column('ts_ns', sa.BigInteger(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.create_index('ix_anomalies_ts', ['ts_ns'])

    op.create_table('api_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('scope', sa.String(length=16), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_ns', sa.BigInteger(), nullable=False),
    sa.Column('revoked', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_table('dead_letters',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('stream', sa.String(length=32), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('received_ns', sa.BigInteger(), nullable=False),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.create_index('ix_dead_letters_received', ['received_ns'])

    op.create_table('feedback',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('target', sa.String(length=512), nullable=False),
    sa.Column('verdict', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=True),
    sa.Column('by', sa.String(length=256), nullable=False),
    sa.Column('at_ns', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.create_index('ix_feedback_at', ['at_ns'])
        batch_op.create_index('ix_feedback_target', ['target'])

    op.create_table('incident_actions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('by', sa.String(length=256), nullable=False),
    sa.Column('at_ns', sa.BigInteger(), nullable=False),
    sa.Column('note', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incident_actions', schema=None) as batch_op:
        batch_op.create_index('ix_incident_actions_incident', ['incident_id', 'at_ns'])

    op.create_table('incident_members',
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('member_id', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('incident_id', 'kind', 'member_id')
    )
    with op.batch_alter_table('incident_members', schema=None) as batch_op:
        batch_op.create_index('ix_incident_members_member', ['kind', 'member_id'])

    op.create_table('incident_services',
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('service', sa.String(length=256), nullable=False),
    sa.PrimaryKeyConstraint('incident_id', 'service')
    )
    with op.batch_alter_table('incident_services', schema=None) as batch_op:
        batch_op.create_index('ix_incident_services_service', ['service', 'incident_id'])

    op.create_table('incident_versions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('updated_ns', sa.BigInteger(), nullable=False),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('incident_versions', schema=None) as batch_op:
        batch_op.create_index('ix_incident_versions_incident', ['incident_id', 'version'])
        batch_op.create_index('ix_incident_versions_updated', ['updated_ns'])

    op.create_table('incidents',
    sa.Column('incident_id', sa.String(length=128), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('domain', sa.String(length=256), nullable=False),
    sa.Column('opened_ns', sa.BigInteger(), nullable=False),
    sa.Column('updated_ns', sa.BigInteger(), nullable=False),
    sa.Column('resolved_ns', sa.BigInteger(), nullable=True),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.Column('acked_ns', sa.BigInteger(), nullable=True),
    sa.Column('acked_by', sa.String(length=256), nullable=True),
    sa.Column('op_resolved_ns', sa.BigInteger(), nullable=True),
    sa.Column('op_resolved_by', sa.String(length=256), nullable=True),
    sa.PrimaryKeyConstraint('incident_id')
    )
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.create_index('ix_incidents_opened', ['opened_ns', 'incident_id'])
        batch_op.create_index(
            'ix_incidents_severity_opened', ['severity', 'opened_ns', 'incident_id']
        )
        batch_op.create_index('ix_incidents_status_opened', ['status', 'opened_ns', 'incident_id'])
        batch_op.create_index('ix_incidents_updated', ['updated_ns'])

    op.create_table('predictions',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('series', sa.Text(), nullable=False),
    sa.Column('ts_ns', sa.BigInteger(), nullable=False),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.create_index('ix_predictions_ts', ['ts_ns'])



def downgrade() -> None:
    """Undo this change."""
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_index('ix_predictions_ts')

    op.drop_table('predictions')
    with op.batch_alter_table('incidents', schema=None) as batch_op:
        batch_op.drop_index('ix_incidents_updated')
        batch_op.drop_index('ix_incidents_status_opened')
        batch_op.drop_index('ix_incidents_severity_opened')
        batch_op.drop_index('ix_incidents_opened')

    op.drop_table('incidents')
    with op.batch_alter_table('incident_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_versions_updated')
        batch_op.drop_index('ix_incident_versions_incident')

    op.drop_table('incident_versions')
    with op.batch_alter_table('incident_services', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_services_service')

    op.drop_table('incident_services')
    with op.batch_alter_table('incident_members', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_members_member')

    op.drop_table('incident_members')
    with op.batch_alter_table('incident_actions', schema=None) as batch_op:
        batch_op.drop_index('ix_incident_actions_incident')

    op.drop_table('incident_actions')
    with op.batch_alter_table('feedback', schema=None) as batch_op:
        batch_op.drop_index('ix_feedback_target')
        batch_op.drop_index('ix_feedback_at')

    op.drop_table('feedback')
    with op.batch_alter_table('dead_letters', schema=None) as batch_op:
        batch_op.drop_index('ix_dead_letters_received')

    op.drop_table('dead_letters')
    op.drop_table('api_tokens')
    with op.batch_alter_table('anomalies', schema=None) as batch_op:
        batch_op.drop_index('ix_anomalies_ts')

    op.drop_table('anomalies')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index('ix_alerts_fingerprint')
        batch_op.drop_index('ix_alerts_event')

    op.drop_table('alerts')
