"""card batches and published receipts

A card remembers the admin form that issued it (a form sent twice issues nothing more);
a gala records when its receipts list was published.

Revision ID: 7018b0de9288
Revises: 304b51c9fdf1
Create Date: 2026-11-24 06:59:52.516492

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7018b0de9288'
down_revision = '304b51c9fdf1'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('gala', schema=None) as batch_op:
        batch_op.add_column(sa.Column('receipts_published_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('token', schema=None) as batch_op:
        batch_op.add_column(sa.Column('batch', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_token_batch'), ['batch'], unique=False)


def downgrade():
    with op.batch_alter_table('token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_token_batch'))
        batch_op.drop_column('batch')

    with op.batch_alter_table('gala', schema=None) as batch_op:
        batch_op.drop_column('receipts_published_at')
