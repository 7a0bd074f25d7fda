"""reveal state and display links

A gala remembers the reveal step on the big screen (and whether it is blanked, and a counter
the displays poll); display links are read-only, revocable links for screens.

Revision ID: 90d04a26c7d5
Revises: cf179ed2c303
Create Date: 2026-11-24 11:13:43.907271

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '90d04a26c7d5'
down_revision = 'cf179ed2c303'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('display_link',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=False),
    sa.Column('created_by', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_display_link'))
    )
    with op.batch_alter_table('gala', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reveal_position', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reveal_blank', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('reveal_version', sa.Integer(), server_default='0', nullable=False))



def downgrade():
    with op.batch_alter_table('gala', schema=None) as batch_op:
        batch_op.drop_column('reveal_version')
        batch_op.drop_column('reveal_blank')
        batch_op.drop_column('reveal_position')

    op.drop_table('display_link')
