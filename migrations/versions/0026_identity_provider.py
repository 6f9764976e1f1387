"""Sign in with Sight+: the OpenID Provider's sites (clients), readers' grants, codes, tokens and signing keys

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07 23:44:56.161172

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('identity_client',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=True),
    sa.Column('token_endpoint_auth_method', sa.String(length=30), nullable=False),
    sa.Column('redirect_uris', sa.JSON(), nullable=False),
    sa.Column('post_logout_redirect_uris', sa.JSON(), nullable=False),
    sa.Column('allowed_scopes', sa.String(length=200), nullable=False),
    sa.Column('first_party', sa.Boolean(), nullable=False),
    sa.Column('subject_salt', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(token_endpoint_auth_method = 'none') = (secret_hash IS NULL)", name=op.f('ck_identity_client_secret_unless_public')),
    sa.CheckConstraint("token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'none')", name=op.f('ck_identity_client_known_auth_method')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_client')),
    sa.UniqueConstraint('client_id', name=op.f('uq_identity_client_client_id'))
    )
    op.create_table('identity_signing_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kid', sa.String(length=64), nullable=False),
    sa.Column('algorithm', sa.String(length=10), nullable=False),
    sa.Column('public_jwk', sa.JSON(), nullable=False),
    sa.Column('private_pem', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('retired_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_signing_key')),
    sa.UniqueConstraint('kid', name=op.f('uq_identity_signing_key_kid'))
    )
    op.create_table('identity_authorization_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('nonce', sa.String(length=255), nullable=True),
    sa.Column('code_challenge', sa.String(length=128), nullable=True),
    sa.Column('code_challenge_method', sa.String(length=10), nullable=True),
    sa.Column('auth_time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint('expires_at > created_at', name=op.f('ck_identity_authorization_code_expires_after_created')),
    sa.ForeignKeyConstraint(['client_id'], ['identity_client.id'], name=op.f('fk_identity_authorization_code_client_id_identity_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_identity_authorization_code_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_authorization_code')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_identity_authorization_code_code_hash'))
    )
    with op.batch_alter_table('identity_authorization_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_authorization_code_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_authorization_code_user_id'), ['user_id'], unique=False)

    op.create_table('identity_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['client_id'], ['identity_client.id'], name=op.f('fk_identity_grant_client_id_identity_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_identity_grant_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_grant'))
    )
    with op.batch_alter_table('identity_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_grant_client_id'), ['client_id'], unique=False)
        batch_op.create_index('ix_identity_grant_user_client', ['user_id', 'client_id'], unique=False)

    op.create_table('identity_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('access_token_hash', sa.String(length=64), nullable=False),
    sa.Column('refresh_token_hash', sa.String(length=64), nullable=True),
    sa.Column('client_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('family', sa.String(length=32), nullable=False),
    sa.Column('authorization_code_id', sa.Integer(), nullable=True),
    sa.Column('scope', sa.String(length=200), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('access_expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('refresh_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('refresh_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['authorization_code_id'], ['identity_authorization_code.id'], name=op.f('fk_identity_token_authorization_code_id_identity_authorization_code'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['client_id'], ['identity_client.id'], name=op.f('fk_identity_token_client_id_identity_client'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_identity_token_user_id_user_account'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_token')),
    sa.UniqueConstraint('access_token_hash', name=op.f('uq_identity_token_access_token_hash')),
    sa.UniqueConstraint('refresh_token_hash', name=op.f('uq_identity_token_refresh_token_hash'))
    )
    with op.batch_alter_table('identity_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_token_authorization_code_id'), ['authorization_code_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_token_client_id'), ['client_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_identity_token_family'), ['family'], unique=False)
        batch_op.create_index('ix_identity_token_user_client', ['user_id', 'client_id'], unique=False)



def downgrade():
    with op.batch_alter_table('identity_token', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_token_user_client')
        batch_op.drop_index(batch_op.f('ix_identity_token_family'))
        batch_op.drop_index(batch_op.f('ix_identity_token_client_id'))
        batch_op.drop_index(batch_op.f('ix_identity_token_authorization_code_id'))

    op.drop_table('identity_token')
    with op.batch_alter_table('identity_grant', schema=None) as batch_op:
        batch_op.drop_index('ix_identity_grant_user_client')
        batch_op.drop_index(batch_op.f('ix_identity_grant_client_id'))

    op.drop_table('identity_grant')
    with op.batch_alter_table('identity_authorization_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_authorization_code_user_id'))
        batch_op.drop_index(batch_op.f('ix_identity_authorization_code_client_id'))

    op.drop_table('identity_authorization_code')
    op.drop_table('identity_signing_key')
    op.drop_table('identity_client')
