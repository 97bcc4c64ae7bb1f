//! What the admin API accepts for a bot, checked field by field, and what it returns.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::model::{Bot, BotId, KnowledgeEntry, RateTiers, TenantId};

/// The instructions a bot gets when none are given.
pub const DEFAULT_SYSTEM_PROMPT: &str =
    "You are a helpful assistant. Answer only from the knowledge entries you are given.";

/// Limits on what a bot may hold; the 64 KiB body limit bounds the total anyway.
const MAX_NAME: usize = 64;
const MAX_DISPLAY_NAME: usize = 100;
const MAX_DESCRIPTION: usize = 1000;
const MAX_SYSTEM_PROMPT: usize = 8000;
const MAX_ENTRIES: usize = 200;
const MAX_TITLE: usize = 200;
const MAX_ORIGINS: usize = 20;

/// `POST /api/admin/bots` body. Everything but `name` is optional.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotSpec {
    /// Short name, unique within the tenant: `[a-z0-9-]`, 1 to 64 characters.
    pub name: String,
    /// Name shown to people; defaults to `name`.
    pub display_name: Option<String>,
    /// Description; defaults to empty.
    #[serde(default)]
    pub description: String,
    /// Listed by the public endpoints; defaults to false.
    #[serde(default)]
    pub public: bool,
    /// Instructions; defaults to [`DEFAULT_SYSTEM_PROMPT`].
    pub system_prompt: Option<String>,
    /// Documents; defaults to none.
    #[serde(default)]
    pub knowledge: Vec<KnowledgeEntry>,
    /// Browser origins (`https://shop.example`); defaults to none.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Whether chat requests must be signed; defaults to false.
    #[serde(default)]
    pub require_signature: bool,
    /// Limits per key; defaults to 60 a minute, 1000 an hour, 10000 a day.
    #[serde(default)]
    pub rate_limits: RateTiers,
    /// The owning tenant; only a super admin may name another tenant than its own.
    pub tenant_id: Option<TenantId>,
}

/// `PATCH /api/admin/bots/{bot_id}` body: the fields to change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BotPatch {
    /// New short name.
    pub name: Option<String>,
    /// New display name.
    pub display_name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// Listed or not.
    pub public: Option<bool>,
    /// Answering or not.
    pub active: Option<bool>,
    /// New instructions.
    pub system_prompt: Option<String>,
    /// New documents (replacing all).
    pub knowledge: Option<Vec<KnowledgeEntry>>,
    /// New origins (replacing all).
    pub allowed_origins: Option<Vec<String>>,
    /// Signed requests required or not.
    pub require_signature: Option<bool>,
    /// New limits.
    pub rate_limits: Option<RateTiers>,
}

/// A bot as the admin API shows it: every field.
#[derive(Debug, Clone, Serialize)]
pub struct BotView {
    /// Its id.
    pub id: BotId,
    /// Its tenant.
    pub tenant_id: TenantId,
    /// Short name.
    pub name: String,
    /// Display name.
    pub display_name: String,
    /// Description.
    pub description: String,
    /// Listed publicly.
    pub public: bool,
    /// Answering.
    pub active: bool,
    /// Instructions.
    pub system_prompt: String,
    /// Documents.
    pub knowledge: Vec<KnowledgeEntry>,
    /// Browser origins.
    pub allowed_origins: Vec<String>,
    /// Signed requests required.
    pub require_signature: bool,
    /// Limits per key.
    pub rate_limits: RateTiers,
    /// Created, RFC 3339.
    pub created_at: Timestamp,
    /// Last changed, RFC 3339.
    pub updated_at: Timestamp,
}

/// A field of a bot that is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidBot {
    /// The field, as named in the API.
    pub field: &'static str,
    /// What is wrong.
    pub reason: &'static str,
}

impl BotSpec {
    /// The new bot, owned by `tenant`, created at `now`.
    ///
    /// # Errors
    ///
    /// When a field is out of bounds, naming it.
    pub fn into_bot(self, tenant: TenantId, now: Timestamp) -> Result<Bot, InvalidBot> {
        let bot = Bot {
            id: BotId::random(),
            tenant_id: tenant,
            display_name: self.display_name.unwrap_or_else(|| self.name.clone()),
            name: self.name,
            description: self.description,
            public: self.public,
            active: true,
            system_prompt: self
                .system_prompt
                .unwrap_or_else(|| DEFAULT_SYSTEM_PROMPT.to_owned()),
            knowledge: self.knowledge,
            allowed_origins: self.allowed_origins,
            require_signature: self.require_signature,
            rate_limits: self.rate_limits,
            created_at: now,
            updated_at: now,
        };
        check(&bot)?;
        Ok(bot)
    }
}

impl BotPatch {
    /// `bot` with the patch applied at `now`.
    ///
    /// # Errors
    ///
    /// When a changed field is out of bounds, naming it.
    pub fn apply(self, mut bot: Bot, now: Timestamp) -> Result<Bot, InvalidBot> {
        let Self {
            name,
            display_name,
            description,
            public,
            active,
            system_prompt,
            knowledge,
            allowed_origins,
            require_signature,
            rate_limits,
        } = self;
        set(&mut bot.name, name);
        set(&mut bot.display_name, display_name);
        set(&mut bot.description, description);
        set(&mut bot.public, public);
        set(&mut bot.active, active);
        set(&mut bot.system_prompt, system_prompt);
        set(&mut bot.knowledge, knowledge);
        set(&mut bot.allowed_origins, allowed_origins);
        set(&mut bot.require_signature, require_signature);
        set(&mut bot.rate_limits, rate_limits);
        bot.updated_at = now;
        check(&bot)?;
        Ok(bot)
    }
}

impl From<Bot> for BotView {
    fn from(bot: Bot) -> Self {
        Self {
            id: bot.id,
            tenant_id: bot.tenant_id,
            name: bot.name,
            display_name: bot.display_name,
            description: bot.description,
            public: bot.public,
            active: bot.active,
            system_prompt: bot.system_prompt,
            knowledge: bot.knowledge,
            allowed_origins: bot.allowed_origins,
            require_signature: bot.require_signature,
            rate_limits: bot.rate_limits,
            created_at: bot.created_at,
            updated_at: bot.updated_at,
        }
    }
}

fn set<T>(field: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *field = value;
    }
}

fn check(bot: &Bot) -> Result<(), InvalidBot> {
    let invalid = |field, reason| Err(InvalidBot { field, reason });
    if !is_name(&bot.name) {
        return invalid("name", "must be 1 to 64 characters of a-z, 0-9 and -");
    }
    if !fits(&bot.display_name, 1, MAX_DISPLAY_NAME) {
        return invalid("display_name", "must be 1 to 100 characters");
    }
    if !fits(&bot.description, 0, MAX_DESCRIPTION) {
        return invalid("description", "must be at most 1000 characters");
    }
    if !fits(&bot.system_prompt, 1, MAX_SYSTEM_PROMPT) {
        return invalid("system_prompt", "must be 1 to 8000 characters");
    }
    if bot.knowledge.len() > MAX_ENTRIES {
        return invalid("knowledge", "must have at most 200 entries");
    }
    let entry_ok =
        |e: &KnowledgeEntry| fits(&e.title, 1, MAX_TITLE) && !e.content.trim().is_empty();
    if !bot.knowledge.iter().all(entry_ok) {
        return invalid(
            "knowledge",
            "each entry needs a title (1 to 200 characters) and content",
        );
    }
    if bot.allowed_origins.len() > MAX_ORIGINS {
        return invalid("allowed_origins", "must be at most 20 origins");
    }
    if !bot.allowed_origins.iter().all(|o| is_origin(o)) {
        return invalid(
            "allowed_origins",
            "each must be an origin such as https://shop.example: http or https, a \
             lowercase host, an optional port, no path and no wildcard",
        );
    }
    let RateTiers {
        per_minute,
        per_hour,
        per_day,
    } = bot.rate_limits;
    if per_minute == 0 || per_hour < per_minute || per_day < per_hour {
        return invalid("rate_limits", "must be above zero with 1m <= 1h <= 1d");
    }
    Ok(())
}

fn is_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn fits(text: &str, min: usize, max: usize) -> bool {
    let n = text.chars().count();
    (min..=max).contains(&n) && (min == 0 || !text.trim().is_empty())
}

/// An origin as browsers send it: `http` or `https`, a host, an optional port, no path.
/// bee-auth's origin rules decide what a well-formed host is; a bot's origins are compared
/// as written, so only the canonical form (lowercase, no default port) and no wildcard
/// is taken.
fn is_origin(text: &str) -> bool {
    !text.contains('*')
        && bee_auth::OriginPattern::parse(text).is_ok_and(|origin| origin.to_string() == text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> BotSpec {
        serde_json::from_str(json).unwrap()
    }

    fn now() -> Timestamp {
        Timestamp::from_second(1_750_000_000).unwrap()
    }

    #[test]
    fn a_bot_with_only_a_name_gets_the_documented_defaults() {
        let bot = spec(r#"{"name": "help"}"#)
            .into_bot(TenantId::default_tenant(), now())
            .unwrap();
        assert_eq!(bot.display_name, "help");
        assert!(!bot.public && bot.active && !bot.require_signature);
        assert_eq!(bot.system_prompt, DEFAULT_SYSTEM_PROMPT);
        assert_eq!(bot.rate_limits, RateTiers::default());
        assert!(bot.knowledge.is_empty() && bot.allowed_origins.is_empty());
    }

    #[test]
    fn an_allowed_origin_needs_a_well_formed_host() {
        for good in [
            "https://example.com",
            "http://localhost:8080",
            "https://a-b.example.co.uk",
            "http://127.0.0.1:3000",
        ] {
            assert!(is_origin(good), "{good} should be accepted");
        }
        for bad in [
            "https://.example.com",
            "https://example..com",
            "https://example.com.",
            "https://-shop.example.com",
            "https://shop-.example.com",
            "https://*.example.com",
            "https://",
            "https://example.com:0",
            "https://example.com/path",
            "ftp://example.com",
            "https://Example.com",
        ] {
            assert!(!is_origin(bad), "{bad} should be refused");
        }
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (r#"{"name": "Help Desk"}"#, "name"),
            (r#"{"name": "a", "display_name": "  "}"#, "display_name"),
            (
                r#"{"name": "a", "knowledge": [{"title": "", "content": "x"}]}"#,
                "knowledge",
            ),
            (
                r#"{"name": "a", "allowed_origins": ["https://a.example/path"]}"#,
                "allowed_origins",
            ),
            (
                r#"{"name": "a", "allowed_origins": ["javascript://x"]}"#,
                "allowed_origins",
            ),
            (
                r#"{"name": "a", "rate_limits": {"1m": 0, "1h": 1, "1d": 1}}"#,
                "rate_limits",
            ),
            (
                r#"{"name": "a", "rate_limits": {"1m": 10, "1h": 5, "1d": 50}}"#,
                "rate_limits",
            ),
        ];
        for (json, field) in cases {
            let err = spec(json)
                .into_bot(TenantId::default_tenant(), now())
                .unwrap_err();
            assert_eq!(err.field, field, "{json}");
        }
    }

    #[test]
    fn origins_with_a_port_are_accepted() {
        let json =
            r#"{"name": "a", "allowed_origins": ["http://localhost:3000", "https://x.example"]}"#;
        assert!(
            spec(json)
                .into_bot(TenantId::default_tenant(), now())
                .is_ok()
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        assert!(serde_json::from_str::<BotSpec>(r#"{"name": "a", "publik": true}"#).is_err());
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_is_checked() {
        let bot = spec(r#"{"name": "help", "description": "d"}"#)
            .into_bot(TenantId::default_tenant(), now())
            .unwrap();
        let patch: BotPatch = serde_json::from_str(r#"{"active": false}"#).unwrap();
        let later = now() + jiff::SignedDuration::from_secs(60);
        let patched = patch.apply(bot.clone(), later).unwrap();
        assert!(!patched.active);
        assert_eq!(patched.description, "d");
        assert_eq!(patched.updated_at, later);

        let bad: BotPatch = serde_json::from_str(r#"{"name": ""}"#).unwrap();
        assert_eq!(bad.apply(bot, later).unwrap_err().field, "name");
    }
}
