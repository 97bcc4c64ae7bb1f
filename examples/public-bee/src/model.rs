//! The server's records: bots, conversations, stored messages, wrapped subject keys.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Identifier of a tenant: the organisation that owns bots and keys.
///
/// 1 to 64 characters of `[a-z0-9_-]`, starting with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantId(bee_auth::TenantId);

/// Identifier of a bot: `bot_` followed by 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BotId(String);

/// Identifier of a conversation: `conv_` followed by 32 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ConversationId(String);

/// An identifier that does not have the expected form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id")]
pub struct InvalidId {
    /// Which kind of id was expected.
    pub kind: &'static str,
}

impl TenantId {
    /// The tenant of the bootstrap admin and of bots created without a tenant.
    pub fn default_tenant() -> Self {
        Self::parse("default").unwrap_or_else(|_| unreachable!("a valid tenant id"))
    }

    /// Parses a tenant id.
    ///
    /// # Errors
    ///
    /// When the text is empty, longer than 64 characters or has other characters than
    /// `[a-z0-9_-]`.
    pub fn parse(text: &str) -> Result<Self, InvalidId> {
        let ok = (1..=64).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        let invalid = InvalidId { kind: "tenant" };
        if !ok {
            return Err(invalid);
        }
        // The same id for bee-auth, whose rules are wider than these.
        bee_auth::TenantId::new(text).map(Self).map_err(|_| invalid)
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The same tenant, as bee-auth names it.
    pub fn to_auth(&self) -> bee_auth::TenantId {
        self.0.clone()
    }
}

macro_rules! prefixed_id {
    ($ty:ident, $prefix:literal, $kind:literal) => {
        impl $ty {
            /// A new random id.
            pub fn random() -> Self {
                Self(format!("{}{}", $prefix, uuid::Uuid::new_v4().simple()))
            }

            /// Parses an id.
            ///
            /// # Errors
            ///
            /// When the text is not the prefix followed by 32 lowercase hex digits.
            pub fn parse(text: &str) -> Result<Self, InvalidId> {
                let hex = text.strip_prefix($prefix).unwrap_or("");
                let ok = hex.len() == 32
                    && hex
                        .bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                ok.then(|| Self(text.to_owned()))
                    .ok_or(InvalidId { kind: $kind })
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

prefixed_id!(BotId, "bot_", "bot");
prefixed_id!(ConversationId, "conv_", "conversation");

macro_rules! text_id_traits {
    ($($ty:ident),*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $ty {
            type Error = InvalidId;

            fn try_from(text: String) -> Result<Self, InvalidId> {
                Self::parse(&text)
            }
        }

        impl From<$ty> for String {
            fn from(id: $ty) -> String {
                id.0
            }
        }
    )*};
}

text_id_traits!(BotId, ConversationId);

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for TenantId {
    type Error = InvalidId;

    fn try_from(text: String) -> Result<Self, InvalidId> {
        Self::parse(&text)
    }
}

impl From<TenantId> for String {
    fn from(id: TenantId) -> String {
        id.as_str().to_owned()
    }
}

/// A bot: a chatbot with its own knowledge, keys and limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bot {
    /// Its id.
    pub id: BotId,
    /// The tenant that owns it.
    pub tenant_id: TenantId,
    /// Short name, unique within the tenant.
    pub name: String,
    /// Name shown to people.
    pub display_name: String,
    /// Description shown to people.
    pub description: String,
    /// Whether it is listed by the public endpoints.
    pub public: bool,
    /// Whether it answers; an inactive bot refuses chat.
    pub active: bool,
    /// Instructions given to the chat backend.
    pub system_prompt: String,
    /// The documents it answers from.
    pub knowledge: Vec<KnowledgeEntry>,
    /// Web origins allowed to call it from a browser.
    pub allowed_origins: Vec<String>,
    /// Whether chat requests must be signed.
    pub require_signature: bool,
    /// Its rate limits per key.
    pub rate_limits: RateTiers,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

/// One document a bot answers from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnowledgeEntry {
    /// Its title, returned as a source.
    pub title: String,
    /// Its text.
    pub content: String,
}

/// Requests allowed per minute, hour and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateTiers {
    /// Per minute.
    #[serde(rename = "1m")]
    pub per_minute: u32,
    /// Per hour.
    #[serde(rename = "1h")]
    pub per_hour: u32,
    /// Per day.
    #[serde(rename = "1d")]
    pub per_day: u32,
}

impl Default for RateTiers {
    fn default() -> Self {
        Self {
            per_minute: 60,
            per_hour: 1000,
            per_day: 10_000,
        }
    }
}

/// A conversation between a bot and one data subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Its id.
    pub id: ConversationId,
    /// The tenant of its bot.
    pub tenant_id: TenantId,
    /// Its bot.
    pub bot_id: BotId,
    /// The pseudonymous id of its data subject (never the caller's raw user id).
    pub subject_id: String,
    /// When it started.
    pub created_at: Timestamp,
    /// When its last message was stored.
    pub updated_at: Timestamp,
    /// When its subject was erased, if they were.
    pub erased_at: Option<Timestamp>,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The end user.
    User,
    /// The bot.
    Assistant,
}

impl Role {
    /// The role as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    /// Reads a stored role.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// A message as stored: its text is sealed, so the store never holds it in clear.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Its conversation.
    pub conversation_id: ConversationId,
    /// Its position in the conversation, from 0.
    pub seq: i64,
    /// Who wrote it.
    pub role: Role,
    /// The sealed text.
    pub sealed: Vec<u8>,
    /// When it was stored.
    pub created_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_parse_back() {
        let bot = BotId::random();
        assert_eq!(BotId::parse(bot.as_str()).unwrap(), bot);
        let conv = ConversationId::random();
        assert_eq!(ConversationId::parse(conv.as_str()).unwrap(), conv);
    }

    #[test]
    fn ids_of_the_wrong_form_are_rejected() {
        for text in [
            "",
            "bot_",
            "bot_XYZ",
            "conv_0123456789abcdef0123456789abcdef",
        ] {
            assert!(BotId::parse(text).is_err(), "{text}");
        }
        for text in ["", "Acme", "-acme", "a b", &"a".repeat(65)] {
            assert!(TenantId::parse(text).is_err(), "{text}");
        }
        assert!(TenantId::parse("acme-eu_1").is_ok());
    }

    #[test]
    fn rate_tiers_use_the_api_names() {
        let json = serde_json::to_string(&RateTiers::default()).unwrap();
        assert_eq!(json, r#"{"1m":60,"1h":1000,"1d":10000}"#);
    }
}
