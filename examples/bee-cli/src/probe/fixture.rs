//! The throwaway bots and keys the probe attacks, made through the admin API, and the
//! cleanup that removes everything the probe made.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::ProbeError;
use super::http::{Call, Seen, Target, Who, encode};

/// Limits high enough that the probe's own traffic never reaches them.
const ROOMY_LIMITS: (u32, u32, u32) = (1000, 10_000, 100_000);
/// The small tier of the bot whose limit is tested.
pub(crate) const SMALL_PER_MINUTE: u32 = 3;
/// The origin a bot of the probe allows (a foreign origin must get nothing).
pub(crate) const ALLOWED_ORIGIN: &str = "https://probe-allowed.example";

/// A bot the probe made, with a secret word in its description and knowledge that no
/// answer about another bot may contain.
#[derive(Debug, Clone)]
pub(crate) struct Bot {
    pub(crate) id: String,
    pub(crate) tenant: String,
    pub(crate) canary: String,
}

/// A key the probe was issued.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) key: Zeroizing<String>,
    pub(crate) key_id: String,
    /// The request-signing secret of a bot key.
    pub(crate) signing_secret: Option<Zeroizing<Vec<u8>>>,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// Everything the checks attack.
#[derive(Debug)]
pub(crate) struct Fixture {
    /// The operator key the probe was given.
    pub(crate) admin: Zeroizing<String>,
    /// A random tag in every name the probe makes.
    pub(crate) tag: String,
    /// The main bot, with a conversation.
    pub(crate) a: Bot,
    /// A second bot of the same tenant.
    pub(crate) b: Bot,
    /// A bot of another tenant.
    pub(crate) t: Bot,
    /// A bot that requires signed requests.
    pub(crate) signed: Bot,
    /// A bot with a small per-minute tier.
    pub(crate) small: Bot,
    pub(crate) key_a: Key,
    pub(crate) key_revoked: Key,
    pub(crate) key_suspended: Key,
    pub(crate) key_b: Key,
    pub(crate) key_t: Key,
    pub(crate) key_signed: Key,
    pub(crate) key_small: Key,
    /// A `tenant_admin` key of the other tenant.
    pub(crate) tenant_admin: Key,
    /// A conversation of bot A, holding its canary.
    pub(crate) conversation_a: String,
}

impl Fixture {
    /// Every bot of the fixture.
    pub(crate) fn bots(&self) -> [&Bot; 5] {
        [&self.a, &self.b, &self.t, &self.signed, &self.small]
    }
}

/// Makes the bots and keys.
///
/// # Errors
///
/// When the server refuses to make one; what was made is cleaned up by [`cleanup`].
pub(crate) async fn setup(
    target: &mut Target,
    admin: Zeroizing<String>,
) -> Result<Fixture, ProbeError> {
    let health = target.send(Who::Main, Call::get("/health")).await?;
    if health.status != 200 {
        return Err(ProbeError::Connection(format!(
            "GET /health answered {}",
            health.status
        )));
    }
    let tag = random_tag();
    let mut maker = Maker {
        target,
        admin: &admin,
        tag: &tag,
    };
    let a = maker
        .bot("a", None, json!({"allowed_origins": [ALLOWED_ORIGIN]}))
        .await?;
    let b = maker.bot("b", None, json!({})).await?;
    let other_tenant = format!("probe-{tag}");
    let t = maker.bot("t", Some(&other_tenant), json!({})).await?;
    let signed = maker
        .bot("s", None, json!({"require_signature": true}))
        .await?;
    let small = maker
        .bot(
            "r",
            None,
            json!({"rate_limits": {"1m": SMALL_PER_MINUTE, "1h": 100, "1d": 1000}}),
        )
        .await?;

    let key_a = maker.bot_key(&a).await?;
    let key_revoked = maker.bot_key(&a).await?;
    maker.key_change(&key_revoked, "revoke").await?;
    let key_suspended = maker.bot_key(&a).await?;
    maker.key_change(&key_suspended, "suspend").await?;
    let key_b = maker.bot_key(&b).await?;
    let key_t = maker.bot_key(&t).await?;
    let key_signed = maker.bot_key(&signed).await?;
    let key_small = maker.bot_key(&small).await?;
    let tenant_admin = maker.tenant_admin(&other_tenant).await?;

    let user_a = format!("probe-{tag}-user-a");
    let conversation_a = maker.conversation(&a, &key_a, &user_a).await?;
    Ok(Fixture {
        admin,
        tag,
        a,
        b,
        t,
        signed,
        small,
        key_a,
        key_revoked,
        key_suspended,
        key_b,
        key_t,
        key_signed,
        key_small,
        tenant_admin,
        conversation_a,
    })
}

/// Setup calls with the operator key.
struct Maker<'a> {
    target: &'a mut Target,
    admin: &'a str,
    tag: &'a str,
}

impl Maker<'_> {
    async fn admin(&mut self, call: Call, what: &str) -> Result<Value, ProbeError> {
        let seen = self.target.send(Who::Main, call.key(self.admin)).await?;
        match (seen.status, seen.json()) {
            (200..=299, Some(value)) => Ok(value),
            (403, Some(body)) if body["error"] == "blocked" => Err(ProbeError::Usage(format!(
                "the server blocks this client's address (answer to the request to {what}): \
                 its abuse detector counted too many failed authentications from it, for \
                 example earlier runs with a wrong admin key file; the block ends on its own, \
                 or an operator lifts it with DELETE /api/admin/blocks/<address>"
            ))),
            (401 | 403, _) => Err(ProbeError::Usage(format!(
                "the admin key was refused ({}) when the probe tried to {what}; it needs an \
                 operator key such as the bootstrap admin key",
                seen.status
            ))),
            _ => Err(ProbeError::Setup(format!(
                "{what}: {}: {}",
                seen.line(),
                seen.body
            ))),
        }
    }

    async fn bot(
        &mut self,
        label: &str,
        tenant: Option<&str>,
        extra: Value,
    ) -> Result<Bot, ProbeError> {
        let canary = format!("canary{}{label}", self.tag);
        let (per_minute, per_hour, per_day) = ROOMY_LIMITS;
        let mut body = json!({
            "name": format!("probe-{}-{label}", self.tag),
            "description": format!("probe bot {label}, {canary}"),
            "knowledge": [{
                "title": "Probe canary",
                "content": format!("The probe canary word is {canary}."),
            }],
            "rate_limits": {"1m": per_minute, "1h": per_hour, "1d": per_day},
        });
        merge(&mut body, extra);
        if let Some(tenant) = tenant {
            body["tenant_id"] = json!(tenant);
        }
        let made = self
            .admin(Call::post("/api/admin/bots").json(&body), "create a bot")
            .await?;
        Ok(Bot {
            id: field(&made, "id")?,
            tenant: field(&made, "tenant_id")?,
            canary,
        })
    }

    async fn bot_key(&mut self, bot: &Bot) -> Result<Key, ProbeError> {
        let path = format!("/api/admin/bots/{}/keys", encode(&bot.id));
        let made = self.admin(Call::post(path), "issue a bot key").await?;
        key_of(&made)
    }

    async fn tenant_admin(&mut self, tenant: &str) -> Result<Key, ProbeError> {
        let body = json!({"tenant_id": tenant, "roles": ["tenant_admin"], "name": "probe"});
        let call = Call::post("/api/admin/keys").json(&body);
        let made = self.admin(call, "issue a tenant admin key").await?;
        key_of(&made)
    }

    async fn key_change(&mut self, key: &Key, change: &str) -> Result<(), ProbeError> {
        let path = format!("/api/admin/keys/{}/{change}", encode(&key.key_id));
        self.admin(Call::post(path), &format!("{change} a key"))
            .await
            .map(drop)
    }

    async fn conversation(
        &mut self,
        bot: &Bot,
        key: &Key,
        user: &str,
    ) -> Result<String, ProbeError> {
        let body = json!({"message": "What is the probe canary word?", "user_id": user});
        let call = Call::post(chat_path(&bot.id)).key(&key.key).json(&body);
        let seen = self.target.send(Who::Main, call).await?;
        let answer = seen.json().filter(|_| seen.status == 200);
        let Some(answer) = answer else {
            return Err(ProbeError::Setup(format!(
                "a first chat message: {}: {}",
                seen.line(),
                seen.body
            )));
        };
        field(&answer, "conversation_id")
    }
}

/// `POST /api/public/chat/{bot}/message`.
pub(crate) fn chat_path(bot: &str) -> String {
    format!("/api/public/chat/{}/message", encode(bot))
}

/// What cleanup did, or failed to do.
#[derive(Debug, Default)]
pub(crate) struct Cleanup {
    pub(crate) done: Vec<String>,
    pub(crate) failed: Vec<String>,
}

/// Removes everything the answers seen so far say the probe made: the data subjects of
/// its conversations (erased), its bots (deleted, which revokes their keys), the admin
/// keys it was issued (revoked), and any block on the addresses it used.
pub(crate) async fn cleanup(
    target: &mut Target,
    admin: &str,
    fixture: Option<&Fixture>,
) -> Cleanup {
    let made = Made::from(target.seen(), fixture);
    let mut out = Cleanup::default();
    let mut erased = 0;
    for (tenant, subject) in &made.subjects {
        let path = format!(
            "/api/admin/subjects/{}?tenant_id={}",
            encode(subject),
            encode(tenant)
        );
        match step(
            target,
            admin,
            Call::new(reqwest::Method::DELETE, path),
            &[200],
        )
        .await
        {
            Ok(()) => erased += 1,
            Err(e) => out.failed.push(format!("erase a data subject: {e}")),
        }
    }
    let mut deleted = 0;
    for bot in &made.bots {
        let path = format!("/api/admin/bots/{}", encode(bot));
        match step(
            target,
            admin,
            Call::new(reqwest::Method::DELETE, path),
            &[204, 404],
        )
        .await
        {
            Ok(()) => deleted += 1,
            Err(e) => out.failed.push(format!("delete bot {bot}: {e}")),
        }
    }
    let mut revoked = 0;
    for key in &made.admin_keys {
        let path = format!("/api/admin/keys/{}/revoke", encode(key));
        match step(target, admin, Call::post(path), &[200, 409]).await {
            Ok(()) => revoked += 1,
            Err(e) => out.failed.push(format!("revoke admin key {key}: {e}")),
        }
    }
    let mut lifted = 0;
    for addr in target.fresh_addresses() {
        let path = format!("/api/admin/blocks/{addr}");
        let call = Call::new(reqwest::Method::DELETE, path).key(admin);
        match target.send(Who::Main, call).await {
            Ok(seen) if seen.status == 204 => lifted += 1,
            Ok(seen) if seen.status == 404 => {}
            Ok(seen) => out
                .failed
                .push(format!("lift a block on {addr}: {}", seen.line())),
            Err(e) => out.failed.push(format!("lift a block on {addr}: {e}")),
        }
    }
    out.done.push(format!(
        "erased {erased} data subjects, deleted {deleted} bots (revoking their keys), \
         revoked {revoked} admin keys, lifted {lifted} blocks"
    ));
    out
}

async fn step(target: &mut Target, admin: &str, call: Call, ok: &[u16]) -> Result<(), String> {
    match target.send(Who::Main, call.key(admin)).await {
        Ok(seen) if ok.contains(&seen.status) => Ok(()),
        Ok(seen) => Err(seen.line()),
        Err(e) => Err(e.to_string()),
    }
}

/// What the probe made, read from the answers it got.
#[derive(Debug, Default)]
struct Made {
    bots: BTreeSet<String>,
    admin_keys: BTreeSet<String>,
    subjects: BTreeSet<(String, String)>,
}

impl Made {
    fn from(seen: &[Seen], fixture: Option<&Fixture>) -> Self {
        let mut made = Self::default();
        let tenant_of = |bot: &str| {
            fixture
                .and_then(|f| f.bots().into_iter().find(|b| b.id == bot))
                .map(|b| b.tenant.clone())
        };
        for s in seen.iter().filter(|s| (200..300).contains(&s.status)) {
            let Some(answer) = s.json() else { continue };
            let text = |name: &str| answer.get(name).and_then(Value::as_str).map(str::to_owned);
            let post = s.method == reqwest::Method::POST;
            if post && s.path == "/api/admin/bots" {
                made.bots.extend(text("id"));
            } else if post && s.path == "/api/admin/keys" {
                made.admin_keys.extend(text("key_id"));
            } else if post && s.path.starts_with("/api/public/chat/") {
                let bot = text("bot_id").unwrap_or_default();
                let tenant = tenant_of(&bot);
                let user = s
                    .request_json()
                    .and_then(|r| r.get("user_id")?.as_str().map(str::to_owned));
                let subject = user.or_else(|| text("conversation_id"));
                if let (Some(tenant), Some(subject)) = (tenant, subject) {
                    made.subjects.insert((tenant, subject));
                }
            }
        }
        made
    }
}

fn key_of(made: &Value) -> Result<Key, ProbeError> {
    let signing_secret = match made.get("signing_secret").and_then(Value::as_str) {
        Some(hex_text) => {
            Some(Zeroizing::new(hex::decode(hex_text).map_err(|_| {
                ProbeError::Setup("the signing secret is not hex".into())
            })?))
        }
        None => None,
    };
    Ok(Key {
        key: Zeroizing::new(field(made, "key")?),
        key_id: field(made, "key_id")?,
        signing_secret,
    })
}

fn field(value: &Value, name: &str) -> Result<String, ProbeError> {
    value
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ProbeError::Setup(format!("the answer has no {name:?}: {value}")))
}

fn merge(into: &mut Value, extra: Value) {
    if let (Some(into), Value::Object(extra)) = (into.as_object_mut(), extra) {
        into.extend(extra);
    }
}

/// Eight random lowercase letters and digits.
fn random_tag() -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut n: u64 = rand::random();
    (0..8)
        .map(|_| {
            let c = ALPHABET[usize::try_from(n % 36).unwrap_or(0)];
            n /= 36;
            char::from(c)
        })
        .collect()
}
