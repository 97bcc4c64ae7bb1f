-- The signing secret of each API key that signs its requests, sealed by the keyring
-- (bee-crypto) and bound to the key id; the server must read it back to check signatures.
CREATE TABLE signing_secrets (
    key_id TEXT PRIMARY KEY,
    sealed BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
