//! Issuing keys under the key policy, and what a new key carries.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use jiff::Timestamp;
use rand::CryptoRng;

use crate::key::{ApiKey, KeyFormatError, KeyId, Prefix};
use crate::pepper::Peppers;
use crate::policy::KeyPolicy;
use crate::rbac::Grant;
use crate::record::{KeyRecord, KeyStatus, OriginPattern, RateLimit, TenantId};
use crate::store::StoreError;

/// Why a key operation was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifecycleError {
    /// The key policy's prefix breaks the prefix rules.
    #[error("the key policy's prefix is invalid")]
    BadPrefix(#[source] KeyFormatError),
    /// The key policy requires at least one scope.
    #[error("the key policy requires at least one scope")]
    NoScope,
    /// A scope is not a well-formed permission pattern.
    #[error("scope {0:?} is not a valid permission pattern")]
    BadScope(String),
    /// The expiry asked for is later than the policy's maximum age allows.
    #[error("expiry is later than the policy's max age of {0} days allows")]
    ExpiryTooLate(u32),
    /// The expiry asked for is not after the creation time.
    #[error("expiry must be after the creation time")]
    ExpiryNotAfterCreation,
    /// The policy restricts keys to domains and the key names no origin.
    #[error("the key policy restricts keys to domains: name at least one allowed origin")]
    OriginRequired,
    /// An origin is outside the policy's allowed domains.
    #[error("origin {0} is outside the policy's allowed domains")]
    OriginOutsideDomains(String),
    /// No key has this id.
    #[error("no key has id {0}")]
    NotFound(KeyId),
    /// The key's status does not allow the operation (resuming a revoked key, say).
    #[error("cannot {action} key {key_id}: it is {}", .status.as_str())]
    WrongStatus {
        /// The key.
        key_id: KeyId,
        /// Its status.
        status: KeyStatus,
        /// The refused operation.
        action: &'static str,
    },
    /// The key was already rotated; rotate its replacement instead.
    #[error("key {key_id} was already replaced by {replaced_by}")]
    AlreadyRotated {
        /// The key.
        key_id: KeyId,
        /// Its replacement.
        replaced_by: KeyId,
    },
    /// The store failed.
    #[error("key store failure")]
    Store(#[from] StoreError),
}

/// What a new key should carry. Start from [`NewKey::new`] and set what you need.
#[derive(Debug, Clone, PartialEq)]
pub struct NewKey {
    /// The tenant the key belongs to.
    pub tenant: TenantId,
    /// A human name for the key.
    pub name: String,
    /// Permission patterns the key may use (`chat:send`).
    pub scopes: Vec<String>,
    /// Roles of the key (`bot_user`).
    pub roles: Vec<String>,
    /// Expiry; `None` means the policy's maximum age.
    pub expires_at: Option<Timestamp>,
    /// Allowed client address ranges; empty allows all.
    pub allowed_ips: Vec<IpNet>,
    /// Allowed browser origins; empty allows all (unless the policy restricts domains).
    pub allowed_origins: Vec<OriginPattern>,
    /// Per-key rate limits.
    pub rate_limits: Vec<RateLimit>,
    /// Free-form labels (never secrets).
    pub metadata: BTreeMap<String, String>,
}

impl NewKey {
    /// A key for `tenant` named `name`, with nothing else set.
    pub fn new(tenant: TenantId, name: impl Into<String>) -> Self {
        Self {
            tenant,
            name: name.into(),
            scopes: Vec::new(),
            roles: Vec::new(),
            expires_at: None,
            allowed_ips: Vec::new(),
            allowed_origins: Vec::new(),
            rate_limits: Vec::new(),
            metadata: BTreeMap::new(),
        }
    }

    /// Adds a scope.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Adds a role.
    pub fn role(mut self, role: impl Into<String>) -> Self {
        self.roles.push(role.into());
        self
    }

    /// Sets the expiry.
    pub fn expires_at(mut self, at: Timestamp) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Adds an allowed address range.
    pub fn allow_ips(mut self, net: IpNet) -> Self {
        self.allowed_ips.push(net);
        self
    }

    /// Adds an allowed single address.
    pub fn allow_ip(self, ip: IpAddr) -> Self {
        self.allow_ips(IpNet::from(ip))
    }

    /// Adds an allowed origin.
    pub fn allow_origin(mut self, origin: OriginPattern) -> Self {
        self.allowed_origins.push(origin);
        self
    }

    /// Carries tenant, name, scopes, roles, restrictions and metadata over from `record`
    /// (what a rotation keeps); expiry is left to the policy.
    pub fn like(record: &KeyRecord) -> Self {
        Self {
            tenant: record.tenant.clone(),
            name: record.name.clone(),
            scopes: record.scopes.clone(),
            roles: record.roles.clone(),
            expires_at: None,
            allowed_ips: record.allowed_ips.clone(),
            allowed_origins: record.allowed_origins.clone(),
            rate_limits: record.rate_limits.clone(),
            metadata: record.metadata.clone(),
        }
    }
}

/// A freshly issued key: the key to hand over once, and the record to store.
#[derive(Debug, Clone)]
pub struct IssuedKey {
    /// The key itself; show it to its owner once, then drop it.
    pub key: ApiKey,
    /// The record to store; it holds only the key's hash.
    pub record: KeyRecord,
}

/// Makes a key and its record under `policy`, without storing anything (the `bee key
/// new` command uses this; servers use [`ApiKeys::create`](crate::ApiKeys::create)).
///
/// # Errors
///
/// A [`LifecycleError`] naming the policy rule the request breaks.
pub fn issue<R: CryptoRng + ?Sized>(
    policy: &KeyPolicy,
    peppers: &Peppers,
    new: NewKey,
    now: Timestamp,
    rng: &mut R,
) -> Result<IssuedKey, LifecycleError> {
    let created_at = to_micros(now);
    let expires_at = check_against_policy(policy, &new, created_at)?;
    let prefix = Prefix::new(&policy.prefix).map_err(LifecycleError::BadPrefix)?;
    let key = ApiKey::generate(&prefix, rng);
    let record = KeyRecord {
        key_id: key.key_id(),
        prefix: policy.prefix.clone(),
        secret_hash: peppers.current().hash(key.expose_secret().as_bytes()),
        pepper_id: peppers.current_id().clone(),
        tenant: new.tenant,
        name: new.name,
        scopes: new.scopes,
        roles: new.roles,
        created_at,
        expires_at: Some(expires_at),
        last_used_at: None,
        status: KeyStatus::Active,
        allowed_ips: new.allowed_ips,
        allowed_origins: new.allowed_origins,
        rate_limits: new.rate_limits,
        replaced_by: None,
        metadata: new.metadata,
        revision: 0,
    };
    Ok(IssuedKey { key, record })
}

/// Checks a new key against the policy and returns its expiry.
fn check_against_policy(
    policy: &KeyPolicy,
    new: &NewKey,
    created_at: Timestamp,
) -> Result<Timestamp, LifecycleError> {
    if policy.require_scope && new.scopes.is_empty() {
        return Err(LifecycleError::NoScope);
    }
    if let Some(bad) = new.scopes.iter().find(|s| Grant::parse(s).is_err()) {
        return Err(LifecycleError::BadScope(bad.chars().take(80).collect()));
    }
    if !policy.allowed_domains.is_empty() && new.allowed_origins.is_empty() {
        return Err(LifecycleError::OriginRequired);
    }
    if let Some(bad) = new
        .allowed_origins
        .iter()
        .find(|o| !policy.allows_origin(o))
    {
        return Err(LifecycleError::OriginOutsideDomains(bad.to_string()));
    }

    let latest = policy.latest_expiry(created_at);
    let expires_at = new.expires_at.map_or(latest, to_micros);
    if expires_at > latest {
        return Err(LifecycleError::ExpiryTooLate(policy.max_age_days));
    }
    if expires_at <= created_at {
        return Err(LifecycleError::ExpiryNotAfterCreation);
    }
    Ok(expires_at)
}

/// Instants are kept to the microsecond, the precision every store keeps.
pub(crate) fn to_micros(at: Timestamp) -> Timestamp {
    Timestamp::from_microsecond(at.as_microsecond()).unwrap_or(at)
}
