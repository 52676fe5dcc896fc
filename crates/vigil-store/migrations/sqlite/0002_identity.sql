-- Identity: users, organizations and robots share one table (their names share one namespace space).
-- ids are stable (UUIDs) and survive renames; names are what people type.
CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL CHECK (kind IN ('user', 'org', 'robot')),
    password_hash TEXT,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    public        INTEGER NOT NULL DEFAULT 0,
    owner_id      TEXT REFERENCES accounts(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE org_members (
    org_id     TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    PRIMARY KEY (org_id, account_id)
) WITHOUT ROWID;

CREATE TABLE teams (
    id     TEXT PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name   TEXT NOT NULL,
    role   TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    UNIQUE (org_id, name)
) WITHOUT ROWID;

CREATE TABLE team_members (
    team_id    TEXT NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    PRIMARY KEY (team_id, account_id)
) WITHOUT ROWID;

-- A grant on one repository (`ns/app`) or on every repository under a prefix (`ns/*`).
CREATE TABLE repo_grants (
    pattern      TEXT NOT NULL,
    grantee_id   TEXT NOT NULL,
    grantee_kind TEXT NOT NULL CHECK (grantee_kind IN ('account', 'team')),
    role         TEXT NOT NULL CHECK (role IN ('read', 'write', 'admin')),
    PRIMARY KEY (pattern, grantee_id)
) WITHOUT ROWID;

CREATE TABLE public_repos (
    repo TEXT PRIMARY KEY
) WITHOUT ROWID;

-- API tokens: only a SHA-256 of the secret is kept. scopes: newline-separated `pattern:action,action`.
CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    scopes       TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    revoked_at   INTEGER,
    last_used_at INTEGER
) WITHOUT ROWID;
CREATE INDEX tokens_by_account ON tokens (account_id);
