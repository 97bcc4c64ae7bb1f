//! Who is calling, and may they do this.
//!
//! (Crate docs are written in full below the module list.)

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
pub use verdict::{Caller, KeyRejection, KeyVerdict};
