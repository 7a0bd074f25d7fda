"""results seals, organizer roles, award kinds and decision categories

Each category's result is sealed in versions (result_seal); a gala records when its results
were sealed and the fingerprint of the ballot box behind them. Categories say what they award,
whether joint winners are allowed and whether exact figures go public, and may be decided by
the chapter without ballots (method "decision"). Organizers get a role.

Revision ID: cf179ed2c303
Revises: 7018b0de9288
Create Date: 2026-11-24 09:52:45.542029

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'cf179ed2c303'
down_revision = '7018b0de9288'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('result_seal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=10), nullable=False),
    sa.Column('result', sa.Text(), nullable=False),
    sa.Column('nonce', sa.String(length=64), nullable=False),
    sa.Column('commitment', sa.String(length=64), nullable=False),
    sa.Column('figures', sa.Text(), nullable=False),
    sa.Column('figures_nonce', sa.String(length=64), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("event IN ('seal', 'decision', 'retally')", name=op.f('ck_result_seal_event')),
    sa.CheckConstraint('version >= 1', name=op.f('ck_result_seal_version')),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_result_seal_category_id_category'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_result_seal')),
    sa.UniqueConstraint('category_id', 'version', name=op.f('uq_result_seal_category_id_version'))
    )
    with op.batch_alter_table('result_seal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_result_seal_category_id'), ['category_id'], unique=False)

    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.add_column(sa.Column('award', sa.String(length=10), server_default='award', nullable=False))
        batch_op.add_column(sa.Column('ex_aequo', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('public_figures', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('revealed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            'award', "award IN ('award', 'mention', 'special')")
        batch_op.drop_constraint(op.f('ck_category_method'), type_='check')
        batch_op.create_check_constraint(
            'method', "method IN ('single', 'ranked', 'score', 'approval', 'irv', 'decision')")

    with op.batch_alter_table('gala', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sealed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('ballot_box_fingerprint', sa.String(length=64), nullable=True))

    with op.batch_alter_table('organizer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=10), server_default='admin', nullable=False))
        batch_op.create_check_constraint('role', "role IN ('admin', 'chair', 'desk', 'presenter')")



def downgrade():
    with op.batch_alter_table('organizer', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_organizer_role'), type_='check')
        batch_op.drop_column('role')

    with op.batch_alter_table('gala', schema=None) as batch_op:
        batch_op.drop_column('ballot_box_fingerprint')
        batch_op.drop_column('sealed_at')

    op.execute("DELETE FROM category WHERE method = 'decision'")
    with op.batch_alter_table('category', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_category_method'), type_='check')
        batch_op.create_check_constraint(
            'method', "method IN ('single', 'ranked', 'score', 'approval', 'irv')")
        batch_op.drop_constraint(op.f('ck_category_award'), type_='check')
        batch_op.drop_column('revealed_at')
        batch_op.drop_column('public_figures')
        batch_op.drop_column('ex_aequo')
        batch_op.drop_column('award')

    with op.batch_alter_table('result_seal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_result_seal_category_id'))

    op.drop_table('result_seal')
