//! Pipeline steps 3 and 5: who is calling (bee-auth's API keys) and may they do this
//! (bee-auth's RBAC and ABAC), plus the start-up work: the pepper file, the key store
//! and the bootstrap admin key.
//!
//! The server decides only which permission each route needs and which resource it
//! touches; checking keys, grants and rules is bee-auth's.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use bee_auth::abac::{AccessRequest, Context, FnRule, Principal as AbacPrincipal, Resource};
use bee_auth::store::sql::SqlKeyStore;
use bee_auth::{
    AbacPolicy, ApiKeys, Caller, GrantSet, KeyPolicy, KeyQuery, KeyRecord, KeyRejection,
    KeyVerdict, NewKey, NonceStore, Pepper, PepperId, Peppers, Permission, RequestParts, Roles,
    RuleOutcome, SignaturePolicy, SignatureRejection, SignatureVerdict, SignatureVerifier,
    SigningSecret, Target,
};
use http::HeaderMap;
use jiff::Timestamp;

use crate::clock::Clock;
use crate::config::{AuthConfig, DEFAULT_KEY_PREFIX};
use crate::data_dir::{self, DataDir, DataDirError};
use crate::model::{BotId, TenantId};
use crate::store::Pool;

/// The pepper file inside `keys/`: 32 random bytes, the HMAC key of stored key hashes.
pub const PEPPER_FILE: &str = "api-key-pepper";
/// The id under which the pepper file's pepper hashes keys.
const PEPPER_ID: &str = "p1";
/// The metadata label that binds a key to one bot.
pub const BOT_LABEL: &str = "bot_id";
/// The metadata label of the bootstrap admin key.
const BOOTSTRAP_LABEL: &str = "bootstrap";
/// The role of the bootstrap admin key.
pub const SUPER_ADMIN: &str = "super_admin";
/// How long a verified key's record is reused without reading the key store again
/// (embedded mode only; see [`Auth::open`]).
pub const KEY_CACHE_TTL: jiff::SignedDuration = jiff::SignedDuration::from_secs(5);
/// Most key records kept in that cache.
const KEY_CACHE_CAPACITY: usize = 10_000;
/// The permission that lets a key act on every tenant (only `*` grants it by default).
const ANY_TENANT: &str = "tenant:any";

/// ABAC rules for keys bound to a tenant, unless a file replaces them.
const DEFAULT_TENANT_RULES: &str = "\
default: deny
rules:
  - name: tenant isolation
    kind: same_tenant
  - name: live bots only
    kind: resource_active
    actions: [\"chat:send\"]
";

/// ABAC rules for keys that may act on every tenant.
const OPERATOR_RULES: &str = "\
default: allow
rules:
  - name: live bots only
    kind: resource_active
    actions: [\"chat:send\"]
";

/// Keys, roles and rules of one server.
pub struct Auth {
    keys: ApiKeys,
    signatures: SignatureVerifier,
    peppers: Peppers,
    roles: Roles,
    tenant_rules: AbacPolicy,
    operator_rules: AbacPolicy,
    clock: Arc<dyn Clock>,
}

/// A caller whose key was verified.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The key's record.
    pub record: KeyRecord,
    /// The key's tenant, in the server's terms.
    pub tenant: TenantId,
    /// The bot the key is bound to, if it is a bot key.
    pub bot: Option<BotId>,
}

/// What an action touches, for the authorisation check.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The resource's id (a bot id, a key id; empty for one being created).
    pub id: &'a str,
    /// Its tenant.
    pub tenant: &'a TenantId,
    /// The bot it belongs to, if any.
    pub bot: Option<&'a BotId>,
    /// Whether it is active (a bot that answers).
    pub active: bool,
}

/// Why a request may not go ahead. The reason is for the log and the audit trail; the
/// caller gets the same answer for every reason of a kind.
#[derive(Debug, thiserror::Error)]
pub enum Denied {
    /// No key was presented.
    #[error("no api key presented")]
    NoKey,
    /// The key is not valid.
    #[error("{0}")]
    BadKey(KeyRejection),
    /// The key may not do this; the checks that said no (`rbac`, `scope`, or the ABAC
    /// rules' names).
    #[error("denied by {}", .0.join(", "))]
    Forbidden(Vec<String>),
    /// The key store cannot be reached.
    #[error("key store unavailable")]
    Unavailable(#[source] bee_auth::StoreError),
    /// The request signature is not valid (or was seen before).
    #[error("{0}")]
    BadSignature(SignatureRejection),
    /// The nonce store cannot be reached, so a replay cannot be ruled out.
    #[error("nonce store unavailable")]
    NoncesUnavailable(#[source] bee_auth::signature::NonceStoreError),
}

/// Auth could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// A file of the data folder.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// A policy file cannot be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A policy file is not valid.
    #[error("{path} is not a valid policy")]
    Policy {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: bee_auth::ConfigError,
    },
    /// The pepper file does not hold a usable pepper.
    #[error("{0} does not hold a 32-byte pepper")]
    Pepper(std::path::PathBuf),
    /// The key store cannot be created.
    #[error("cannot set up the key store")]
    Store(#[from] bee_auth::StoreError),
    /// The bootstrap admin key cannot be issued.
    #[error("cannot issue the bootstrap admin key")]
    Bootstrap(#[from] bee_auth::LifecycleError),
}

impl Auth {
    /// Sets up keys over the server's database, with the pepper of the data folder
    /// (created on first start) and the configured policies.
    ///
    /// # Errors
    ///
    /// When a file cannot be read or is not valid, or the key table cannot be created.
    pub async fn open(
        config: &AuthConfig,
        data_dir: &DataDir,
        pool: &Pool,
        clock: Arc<dyn Clock>,
        nonces: Arc<dyn NonceStore>,
    ) -> Result<Self, AuthSetupError> {
        let store = match pool {
            Pool::Sqlite(pool) => SqlKeyStore::sqlite(pool.clone()),
            Pool::Postgres(pool) => SqlKeyStore::postgres(pool.clone()),
        };
        store.create_tables().await?;

        let peppers = load_peppers(&data_dir.key_path(PEPPER_FILE))?;
        let policy = match &config.key_policy_file {
            Some(path) => load(path, KeyPolicy::from_yaml, KeyPolicy::from_toml)?,
            None => KeyPolicy {
                prefix: DEFAULT_KEY_PREFIX.into(),
                ..KeyPolicy::default()
            },
        };
        let mut keys = ApiKeys::new(Arc::new(store), peppers.clone(), policy)
            .map_err(|source| policy_error("key policy", source))?
            .with_clock(Arc::new(AuthClock(Arc::clone(&clock))));
        if matches!(pool, Pool::Sqlite(_)) {
            // Embedded: this server is the only one changing its keys, and revoke,
            // suspend, resume and rotate drop the key from the cache at once, so a change
            // is exact. The TTL bounds only a change written to the database file by
            // something else. A fleet (PostgreSQL) reads every key from the database.
            keys = keys.with_cache(KEY_CACHE_TTL, KEY_CACHE_CAPACITY);
        }
        let roles = match &config.roles_file {
            Some(path) => load(path, Roles::from_yaml, Roles::from_toml)?,
            None => Roles::default(),
        };
        let tenant_rules = match &config.abac_file {
            Some(path) => load(
                path,
                |t| AbacPolicy::from_yaml(t, None),
                |t| AbacPolicy::from_toml(t, None),
            )?,
            None => AbacPolicy::from_yaml(DEFAULT_TENANT_RULES, None)
                .map_err(|source| policy_error("default rules", source))?,
        };
        let operator_rules = AbacPolicy::from_yaml(OPERATOR_RULES, None)
            .map_err(|source| policy_error("operator rules", source))?;
        let signatures = SignatureVerifier::new(SignaturePolicy::default(), nonces)
            .map_err(|source| policy_error("signature policy", source))?
            .with_clock(Arc::new(AuthClock(Arc::clone(&clock))));
        Ok(Self {
            keys,
            signatures,
            peppers,
            roles,
            tenant_rules: tenant_rules.with_rule(bot_binding()),
            operator_rules: operator_rules.with_rule(bot_binding()),
            clock,
        })
    }

    /// Key verification and lifecycle.
    pub fn keys(&self) -> &ApiKeys {
        &self.keys
    }

    /// The roles this server knows (its roles file, or the built-in ones).
    pub fn roles(&self) -> &Roles {
        &self.roles
    }

    /// Step 3: the key in `Authorization: Bearer` (or `X-API-Key`), checked by bee-auth
    /// for format, checksum, hash, status, expiry, client address and origin.
    ///
    /// # Errors
    ///
    /// [`Denied::NoKey`], [`Denied::BadKey`] with the reason, or
    /// [`Denied::Unavailable`] when the key store cannot answer.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        client: IpAddr,
    ) -> Result<Principal, Denied> {
        let presented = bee_auth::presented_key(headers).ok_or(Denied::NoKey)?;
        let caller = Caller::from_request(Some(client), headers);
        match self.keys.verify(presented, &caller).await {
            Ok(KeyVerdict::Valid(record)) => Ok(principal(*record)),
            Ok(KeyVerdict::Invalid(why)) => Err(Denied::BadKey(why)),
            Err(e) => Err(Denied::Unavailable(e)),
        }
    }

    /// Step 4: the request's signature under the key's signing secret, its timestamp
    /// window and its nonce (bee-auth's verifier; the nonce store is shared by a fleet).
    ///
    /// # Errors
    ///
    /// [`Denied::BadSignature`] with the reason, or [`Denied::NoncesUnavailable`].
    pub async fn verify_signature(
        &self,
        head: &http::request::Parts,
        body: &[u8],
        secret: SigningSecret,
        key_id: &str,
    ) -> Result<(), Denied> {
        let request = RequestParts::from_http(head, body);
        match self.signatures.verify(&request, &[secret], key_id).await {
            Ok(SignatureVerdict::Valid { .. }) => Ok(()),
            Ok(SignatureVerdict::Invalid(why)) => Err(Denied::BadSignature(why)),
            Err(e) => Err(Denied::NoncesUnavailable(e)),
        }
    }

    /// Step 5: whether `principal` may do `action` on `subject`: its roles grant it and
    /// its scopes allow it (RBAC), and the ABAC rules allow it (tenant isolation, live
    /// bots, a bot key acting on its own bot only, and whatever the rules file adds).
    ///
    /// # Errors
    ///
    /// [`Denied::Forbidden`] with the reasons.
    pub fn authorize(
        &self,
        principal: &Principal,
        action: &str,
        subject: Subject<'_>,
        client: IpAddr,
    ) -> Result<(), Denied> {
        let permission =
            Permission::parse(action).map_err(|_| Denied::Forbidden(vec!["action".into()]))?;
        let record = &principal.record;
        let me = principal
            .bot
            .as_ref()
            .map_or(record.key_id.as_str(), BotId::as_str);
        let owner = subject.bot.map(BotId::as_str);
        let target = owner.map_or_else(Target::any, Target::owned_by);

        if !self.roles.allows(&record.roles, me, &permission, &target) {
            return Err(Denied::Forbidden(vec!["rbac".into()]));
        }
        let scopes = GrantSet::lenient(&record.scopes);
        if !scopes.allows(me, &permission, &target) {
            return Err(Denied::Forbidden(vec!["scope".into()]));
        }

        let principal_bot = principal.bot.as_ref().map(|b| (BOT_LABEL, b.as_str()));
        let resource_bot = subject.bot.map(|b| (BOT_LABEL, b.as_str()));
        let principal_attrs: Vec<(&str, &str)> = principal_bot.into_iter().collect();
        let resource_attrs: Vec<(&str, &str)> = resource_bot.into_iter().collect();
        let request = AccessRequest {
            principal: AbacPrincipal {
                id: record.key_id.as_str(),
                tenant: principal.tenant.as_str(),
                attributes: &principal_attrs,
            },
            resource: Resource {
                id: subject.id,
                tenant: subject.tenant.as_str(),
                owner,
                active: subject.active,
                attributes: &resource_attrs,
            },
            action: &permission,
            context: Context {
                now: self.clock.now(),
                ip: Some(client),
                attributes: &[],
            },
        };
        let rules = if self.acts_on_any_tenant(principal) {
            &self.operator_rules
        } else {
            &self.tenant_rules
        };
        let decision = rules.evaluate(&request);
        if decision.allowed {
            return Ok(());
        }
        for denial in &decision.denials {
            tracing::debug!(rule = %denial.rule, reason = %denial.reason, "abac denial");
        }
        Err(Denied::Forbidden(
            decision.denials.into_iter().map(|d| d.rule).collect(),
        ))
    }

    /// Whether the principal may act on every tenant (RBAC `tenant:any`).
    pub fn acts_on_any_tenant(&self, principal: &Principal) -> bool {
        let Ok(any) = Permission::parse(ANY_TENANT) else {
            return false;
        };
        let record = &principal.record;
        let me = record.key_id.as_str();
        self.roles.allows(&record.roles, me, &any, &Target::any())
            && GrantSet::lenient(&record.scopes).allows(me, &any, &Target::any())
    }

    /// Issues the bootstrap admin key on the first start: a `super_admin` key of the
    /// default tenant, written to `path` (mode 0600) before its record is stored, so that
    /// a key is never recorded without its file. Returns whether it was issued. A store
    /// that already holds a bootstrap key (in any status) gets no second one.
    ///
    /// # Errors
    ///
    /// When the store cannot be read or written, or the file cannot be written.
    pub async fn bootstrap(&self, path: &Path) -> Result<bool, AuthSetupError> {
        let query = KeyQuery {
            tenant: Some(TenantId::default_tenant().to_auth()),
            ..KeyQuery::default()
        };
        let existing = self.keys.store().list(&query).await?;
        if existing
            .iter()
            .any(|r| r.metadata.contains_key(BOOTSTRAP_LABEL))
        {
            return Ok(false);
        }
        let mut new = NewKey::new(TenantId::default_tenant().to_auth(), "bootstrap admin")
            .role(SUPER_ADMIN)
            .scope("*");
        new.metadata.insert(BOOTSTRAP_LABEL.into(), "true".into());
        let issued = bee_auth::lifecycle::issue(
            self.keys.policy(),
            &self.peppers,
            new,
            self.clock.now(),
            &mut rand::rng(),
        )?;
        let mut text = zeroize::Zeroizing::new(issued.key.expose().to_owned());
        text.push('\n');
        if !data_dir::write_secret_new(path, text.as_bytes())? {
            // A file from an earlier start whose record is missing: keep the file, issue
            // nothing, and let the operator decide.
            return Ok(false);
        }
        self.keys.store().insert(&issued.record).await?;
        Ok(true)
    }
}

impl Denied {
    /// A short code for logs and audit events.
    pub fn code(&self) -> &'static str {
        match self {
            Denied::NoKey => "no_key",
            Denied::BadKey(why) => why.code(),
            Denied::Forbidden(_) => "forbidden",
            Denied::Unavailable(_) => "key_store_unavailable",
            Denied::BadSignature(why) => signature_code(why),
            Denied::NoncesUnavailable(_) => "nonce_store_unavailable",
        }
    }
}

/// A short code for a signature refusal, for logs and audit events.
fn signature_code(why: &SignatureRejection) -> &'static str {
    match why {
        SignatureRejection::MissingTimestamp | SignatureRejection::BadTimestamp => {
            "signature_timestamp"
        }
        SignatureRejection::OutsideWindow { .. } => "signature_expired",
        SignatureRejection::Replayed => "signature_replayed",
        SignatureRejection::Mismatch => "signature_mismatch",
        _ => "signature_malformed",
    }
}

fn principal(record: KeyRecord) -> Principal {
    let tenant =
        TenantId::parse(record.tenant.as_str()).unwrap_or_else(|_| TenantId::default_tenant());
    let bot = record
        .metadata
        .get(BOT_LABEL)
        .and_then(|id| BotId::parse(id).ok());
    Principal {
        record,
        tenant,
        bot,
    }
}

/// A key bound to a bot acts on that bot only.
fn bot_binding() -> Arc<dyn bee_auth::abac::Rule> {
    Arc::new(FnRule::new("bot binding", |request: &AccessRequest<'_>| {
        let label = |attrs: &[(&str, &str)]| {
            attrs
                .iter()
                .find(|(k, _)| *k == BOT_LABEL)
                .map(|(_, v)| (*v).to_owned())
        };
        match label(request.principal.attributes) {
            None => RuleOutcome::NotApplicable,
            Some(bot) if label(request.resource.attributes).as_deref() == Some(&bot) => {
                RuleOutcome::Allow
            }
            Some(_) => RuleOutcome::Deny("the key is bound to another bot".into()),
        }
    }))
}

/// The pepper from its file, created with 32 random bytes on first start.
fn load_peppers(path: &Path) -> Result<Peppers, AuthSetupError> {
    let mut fresh = zeroize::Zeroizing::new([0u8; 32]);
    rand::fill(&mut fresh[..]);
    data_dir::write_secret_new(path, &fresh[..])?;
    let bytes = data_dir::read_secret(path)?.ok_or_else(|| AuthSetupError::Pepper(path.into()))?;
    let pepper = Pepper::from_bytes(&bytes).map_err(|_| AuthSetupError::Pepper(path.into()))?;
    let id = PepperId::new(PEPPER_ID).map_err(|_| AuthSetupError::Pepper(path.into()))?;
    Ok(Peppers::new(id, pepper))
}

fn load<T>(
    path: &Path,
    yaml: impl FnOnce(&str) -> Result<T, bee_auth::ConfigError>,
    toml: impl FnOnce(&str) -> Result<T, bee_auth::ConfigError>,
) -> Result<T, AuthSetupError> {
    let text = std::fs::read_to_string(path).map_err(|source| AuthSetupError::Read {
        path: path.to_owned(),
        source,
    })?;
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    let parsed = if is_toml { toml(&text) } else { yaml(&text) };
    parsed.map_err(|source| policy_error(&path.display().to_string(), source))
}

fn policy_error(what: &str, source: bee_auth::ConfigError) -> AuthSetupError {
    AuthSetupError::Policy {
        path: what.to_owned(),
        source,
    }
}

/// The server's clock, as bee-auth's.
pub struct AuthClock(pub Arc<dyn Clock>);

impl bee_auth::Clock for AuthClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }
}
