-- Bots, conversations, sealed messages and wrapped subject keys.
-- Times are milliseconds since the Unix epoch, UTC. Message text is only ever stored sealed.
CREATE TABLE bots (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    description TEXT NOT NULL,
    is_public BOOLEAN NOT NULL,
    is_active BOOLEAN NOT NULL,
    system_prompt TEXT NOT NULL,
    knowledge TEXT NOT NULL,
    allowed_origins TEXT NOT NULL,
    require_signature BOOLEAN NOT NULL,
    limit_per_minute BIGINT NOT NULL,
    limit_per_hour BIGINT NOT NULL,
    limit_per_day BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    bot_id TEXT NOT NULL REFERENCES bots (id) ON DELETE CASCADE,
    subject_id TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    erased_at BIGINT
);

CREATE INDEX conversations_by_bot ON conversations (bot_id, updated_at);
CREATE INDEX conversations_by_subject ON conversations (tenant_id, subject_id);

CREATE TABLE messages (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    role TEXT NOT NULL,
    sealed BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- Subject keys wrapped by the keyring (bee-crypto); `wrapped` is NULL once the subject is
-- erased, and the generation never goes down.
CREATE TABLE subject_keys (
    subject TEXT PRIMARY KEY,
    generation BIGINT NOT NULL,
    wrapped BLOB
);
