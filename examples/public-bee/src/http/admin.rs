//! The admin API: bots and their keys. Every route needs a key whose roles and scopes
//! grant the action and whose tenant may touch the resource (bee-auth RBAC and ABAC).

use axum::Json;
use axum::extract::{Path, State};
use bee_audit::{Activity, KeyOperation, Target as AuditTarget};
use bee_auth::{IssuedKey, KeyId, KeyQuery, KeyRecord, LifecycleError, NewKey, OriginPattern};
use http::StatusCode;
use ipnet::IpNet;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorChain};
use super::guard::Caller;
use super::json::ApiJson;
use crate::audit::label;
use crate::auth::{BOT_LABEL, Subject};
use crate::bots::{BotPatch, BotSpec, BotView};
use crate::model::{Bot, BotId, TenantId};
use crate::store::BotQuery;

/// The role of keys issued for a bot.
const BOT_ROLE: &str = "bot_user";
/// The scopes of a bot key when none are asked for.
const DEFAULT_BOT_SCOPES: [&str; 2] = ["chat:send", "chat:history:own"];

/// `POST /api/admin/bots/{bot_id}/keys` body.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyRequest {
    scopes: Option<Vec<String>>,
    expires_in_days: Option<u32>,
    #[serde(default)]
    allowed_ips: Vec<IpNet>,
    #[serde(default)]
    allowed_origins: Vec<String>,
    name: Option<String>,
}

/// `POST /api/admin/keys` body: an admin key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AdminKeyRequest {
    tenant_id: TenantId,
    roles: Vec<String>,
    scopes: Option<Vec<String>>,
    expires_in_days: Option<u32>,
    #[serde(default)]
    allowed_ips: Vec<IpNet>,
    name: Option<String>,
}

/// A key as the admin API shows it; `key` only in the answer that issued it.
#[derive(Debug, Serialize)]
pub(super) struct KeyView {
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
    /// The key's request-signing secret (hex), shown once, for bots that require signed
    /// requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_secret: Option<String>,
    key_id: String,
    prefix: String,
    tenant_id: String,
    bot_id: Option<String>,
    name: String,
    scopes: Vec<String>,
    roles: Vec<String>,
    status: &'static str,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
    allowed_ips: Vec<IpNet>,
    replaced_by: Option<String>,
}

/// `GET /api/admin/bots` answer.
#[derive(Debug, Serialize)]
pub(super) struct BotList {
    bots: Vec<BotView>,
}

/// `POST /api/admin/bots`.
pub(super) async fn create_bot(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(spec): ApiJson<BotSpec>,
) -> Result<(StatusCode, Json<BotView>), ApiError> {
    let tenant = spec
        .tenant_id
        .clone()
        .unwrap_or_else(|| caller.principal.tenant.clone());
    let subject = Subject {
        id: "",
        tenant: &tenant,
        bot: None,
        active: true,
    };
    caller.may(&state, "bot:create", subject).await?;
    let bot = spec
        .into_bot(tenant, state.clock.now())
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    state.store.insert_bot(&bot).await?;
    tracing::info!(bot_id = %bot.id, tenant = %bot.tenant_id, "bot created");
    record_bot_change(&state, &caller, &bot, "bot.create").await;
    Ok((StatusCode::CREATED, Json(BotView::from(bot))))
}

/// `GET /api/admin/bots`: the caller's tenant's bots (every bot for an operator).
pub(super) async fn list_bots(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<BotList>, ApiError> {
    let tenant = &caller.principal.tenant;
    let subject = Subject {
        id: "",
        tenant,
        bot: None,
        active: true,
    };
    caller.may(&state, "bot:list", subject).await?;
    let query = BotQuery {
        tenant: (!state.auth.acts_on_any_tenant(&caller.principal)).then(|| tenant.clone()),
        public_only: false,
    };
    let bots = state.store.bots(&query).await?;
    Ok(Json(BotList {
        bots: bots.into_iter().map(BotView::from).collect(),
    }))
}

/// `GET /api/admin/bots/{bot_id}`.
pub(super) async fn bot(
    State(state): State<AppState>,
    caller: Caller,
    Path(bot_id): Path<String>,
) -> Result<Json<BotView>, ApiError> {
    let bot = find_bot(&state, &bot_id).await?;
    caller.may(&state, "bot:read", bot_subject(&bot)).await?;
    Ok(Json(BotView::from(bot)))
}

/// `PATCH /api/admin/bots/{bot_id}`.
pub(super) async fn update_bot(
    State(state): State<AppState>,
    caller: Caller,
    Path(bot_id): Path<String>,
    ApiJson(patch): ApiJson<BotPatch>,
) -> Result<Json<BotView>, ApiError> {
    let bot = find_bot(&state, &bot_id).await?;
    caller.may(&state, "bot:update", bot_subject(&bot)).await?;
    let bot = patch
        .apply(bot, state.clock.now())
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    if !state.store.update_bot(&bot).await? {
        return Err(ApiError::not_found("bot"));
    }
    tracing::info!(bot_id = %bot.id, "bot updated");
    record_bot_change(&state, &caller, &bot, "bot.update").await;
    Ok(Json(BotView::from(bot)))
}

/// `DELETE /api/admin/bots/{bot_id}`: deletes the bot and its conversations, and
/// revokes its keys.
pub(super) async fn delete_bot(
    State(state): State<AppState>,
    caller: Caller,
    Path(bot_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let bot = find_bot(&state, &bot_id).await?;
    caller.may(&state, "bot:delete", bot_subject(&bot)).await?;
    for record in keys_of_bot(&state, &bot).await? {
        if record.status != bee_auth::KeyStatus::Revoked {
            state
                .auth
                .keys()
                .revoke(&record.key_id)
                .await
                .map_err(lifecycle)?;
        }
    }
    state.store.delete_bot(&bot.id).await?;
    tracing::info!(bot_id = %bot.id, "bot deleted");
    record_bot_change(&state, &caller, &bot, "bot.delete").await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/admin/bots/{bot_id}/keys`: a `bot_user` key bound to the bot, shown once.
pub(super) async fn create_bot_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(bot_id): Path<String>,
    body: Option<ApiJson<KeyRequest>>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let bot = find_bot(&state, &bot_id).await?;
    caller.may(&state, "bot:keys", bot_subject(&bot)).await?;
    let request = body.map(|ApiJson(r)| r).unwrap_or_default();

    let name = request.name.unwrap_or_else(|| format!("{} key", bot.name));
    let mut new = NewKey::new(bot.tenant_id.to_auth(), name).role(BOT_ROLE);
    let scopes = request
        .scopes
        .unwrap_or_else(|| DEFAULT_BOT_SCOPES.map(String::from).to_vec());
    new.scopes = scopes;
    new.allowed_ips = request.allowed_ips;
    new.allowed_origins = origins(&request.allowed_origins)?;
    new.expires_at = expiry(&state, request.expires_in_days)?;
    new.metadata.insert(BOT_LABEL.into(), bot.id.to_string());

    let issued = state.auth.keys().create(new).await.map_err(lifecycle)?;
    tracing::info!(key_id = %issued.record.key_id, bot_id = %bot.id, "bot key issued");
    record_key_change(&state, &caller, &issued.record, KeyOperation::Created).await;
    let secret = signing_secret(&state, &issued.record).await?;
    let mut view = issued_view(issued);
    view.signing_secret = Some(secret);
    Ok((StatusCode::CREATED, Json(view)))
}

/// `POST /api/admin/keys`: an admin key of any tenant and roles (operators only).
pub(super) async fn create_admin_key(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(request): ApiJson<AdminKeyRequest>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let subject = Subject {
        id: "",
        tenant: &request.tenant_id,
        bot: None,
        active: true,
    };
    caller.may(&state, "admin_key:create", subject).await?;
    if request.roles.is_empty() {
        return Err(ApiError::unprocessable("roles: name at least one role"));
    }
    let known = state.auth.roles();
    if let Some(unknown) = request
        .roles
        .iter()
        .find(|role| known.grants(role).is_none())
    {
        let names: Vec<&str> = known.names().collect();
        return Err(ApiError::unprocessable(format!(
            "roles: {:?} is not a role of this server (its roles: {})",
            unknown.chars().take(64).collect::<String>(),
            names.join(", ")
        )));
    }
    let name = request.name.unwrap_or_else(|| "admin key".into());
    let mut new = NewKey::new(request.tenant_id.to_auth(), name);
    new.roles = request.roles;
    new.scopes = request.scopes.unwrap_or_else(|| vec!["*".into()]);
    new.allowed_ips = request.allowed_ips;
    new.expires_at = expiry(&state, request.expires_in_days)?;
    let issued = state.auth.keys().create(new).await.map_err(lifecycle)?;
    tracing::info!(key_id = %issued.record.key_id, "admin key issued");
    record_key_change(&state, &caller, &issued.record, KeyOperation::Created).await;
    Ok((StatusCode::CREATED, Json(issued_view(issued))))
}

/// `GET /api/admin/keys/{key_id}`: the key's record, never its secret.
pub(super) async fn key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    let record = find_key(&state, &caller, &key_id).await?;
    Ok(Json(view(&record, None)))
}

/// `DELETE /api/admin/blocks/{address}`: lifts an abuse block (operators only).
pub(super) async fn unblock(
    State(state): State<AppState>,
    caller: Caller,
    Path(address): Path<String>,
) -> Result<StatusCode, ApiError> {
    let subject = Subject {
        id: "",
        tenant: &caller.principal.tenant,
        bot: None,
        active: true,
    };
    caller.may(&state, "security:unblock", subject).await?;
    if !state.auth.acts_on_any_tenant(&caller.principal) {
        return Err(ApiError::forbidden());
    }
    let addr: std::net::IpAddr = address.parse().map_err(|_| ApiError::not_found("block"))?;
    let lifted = state.limits.unblock(addr).await.map_err(|e| {
        tracing::error!(error = %ErrorChain(&e), "block list unavailable");
        ApiError::unavailable("the block list cannot be reached; try again later")
    })?;
    if !lifted {
        return Err(ApiError::not_found("block"));
    }
    tracing::info!(%addr, "block lifted");
    let target = AuditTarget {
        bot: None,
        resource: label(&addr.to_string()),
    };
    let activity = Activity::AbuseAction {
        action: bee_audit::AbuseResponse::Block,
        reason: label("lifted_by_operator"),
    };
    state
        .audit
        .record(caller.event(&state, activity).target(target))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/admin/keys/{key_id}/rotate`: a new key with the same rights; the old one
/// works for the policy's grace period.
pub(super) async fn rotate_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    let record = find_key(&state, &caller, &key_id).await?;
    let issued = state
        .auth
        .keys()
        .rotate(&record.key_id)
        .await
        .map_err(lifecycle)?;
    tracing::info!(key_id = %record.key_id, new_key_id = %issued.record.key_id, "key rotated");
    record_key_change(&state, &caller, &record, KeyOperation::Rotated).await;
    Ok((StatusCode::CREATED, Json(issued_view(issued))))
}

/// `POST /api/admin/keys/{key_id}/revoke`.
pub(super) async fn revoke_key(
    state: State<AppState>,
    caller: Caller,
    key_id: Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    change_key(state, caller, key_id, Change::Revoke).await
}

/// `POST /api/admin/keys/{key_id}/suspend`.
pub(super) async fn suspend_key(
    state: State<AppState>,
    caller: Caller,
    key_id: Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    change_key(state, caller, key_id, Change::Suspend).await
}

/// `POST /api/admin/keys/{key_id}/resume`.
pub(super) async fn resume_key(
    state: State<AppState>,
    caller: Caller,
    key_id: Path<String>,
) -> Result<Json<KeyView>, ApiError> {
    change_key(state, caller, key_id, Change::Resume).await
}

#[derive(Debug, Clone, Copy)]
enum Change {
    Revoke,
    Suspend,
    Resume,
}

async fn change_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(key_id): Path<String>,
    change: Change,
) -> Result<Json<KeyView>, ApiError> {
    let record = find_key(&state, &caller, &key_id).await?;
    let keys = state.auth.keys();
    let changed = match change {
        Change::Revoke => keys.revoke(&record.key_id).await,
        Change::Suspend => keys.suspend(&record.key_id).await,
        Change::Resume => keys.resume(&record.key_id).await,
    }
    .map_err(lifecycle)?;
    tracing::info!(key_id = %changed.key_id, status = changed.status.as_str(), "key status changed");
    let operation = match change {
        Change::Revoke => KeyOperation::Revoked,
        Change::Suspend => KeyOperation::Suspended,
        Change::Resume => KeyOperation::Reactivated,
    };
    record_key_change(&state, &caller, &changed, operation).await;
    Ok(Json(view(&changed, None)))
}

/// A fresh signing secret for a bot key: sealed by the keyring into the records, and
/// handed back (hex) to be shown this once.
async fn signing_secret(state: &AppState, record: &KeyRecord) -> Result<String, ApiError> {
    let key_id = record.key_id.as_str();
    let (_, bytes) = bee_auth::SigningSecret::generate(&mut rand::rng());
    let sealed = state
        .sealing
        .seal_signing_secret(key_id, &bytes[..])
        .map_err(|e| {
            tracing::error!(error = %ErrorChain(&e), "signing secret not sealed");
            ApiError::internal()
        })?;
    state
        .store
        .insert_signing_secret(key_id, &sealed, state.clock.now())
        .await?;
    Ok(hex::encode(&bytes[..]))
}

async fn record_bot_change(state: &AppState, caller: &Caller, bot: &Bot, setting: &str) {
    let Some(setting) = label(setting) else {
        return;
    };
    let target = AuditTarget {
        bot: label(bot.id.as_str()),
        resource: None,
    };
    let event = caller
        .event(state, Activity::ConfigChange { setting })
        .target(target);
    state.audit.record(event).await;
}

async fn record_key_change(
    state: &AppState,
    caller: &Caller,
    record: &KeyRecord,
    operation: KeyOperation,
) {
    let target = AuditTarget {
        bot: record.metadata.get(BOT_LABEL).and_then(|b| label(b)),
        // A key id is public (it is how a key is looked up and shown), unlike its secret.
        resource: label(record.key_id.as_str()),
    };
    let event = caller
        .event(state, Activity::KeyLifecycle { operation })
        .target(target);
    state.audit.record(event).await;
}

async fn find_bot(state: &AppState, bot_id: &str) -> Result<Bot, ApiError> {
    let not_found = || ApiError::not_found("bot");
    let id = BotId::parse(bot_id).map_err(|_| not_found())?;
    state.store.bot(&id).await?.ok_or_else(not_found)
}

/// The key with this id, if the caller may manage it.
async fn find_key(state: &AppState, caller: &Caller, key_id: &str) -> Result<KeyRecord, ApiError> {
    let not_found = || ApiError::not_found("key");
    let id = KeyId::parse(key_id).map_err(|_| not_found())?;
    let record = state
        .auth
        .keys()
        .store()
        .find(&id)
        .await
        .map_err(|e| store_unavailable(&e))?
        .ok_or_else(not_found)?;
    let tenant = TenantId::parse(record.tenant.as_str()).map_err(|_| ApiError::internal())?;
    let bot = record
        .metadata
        .get(BOT_LABEL)
        .and_then(|b| BotId::parse(b).ok());
    let subject = Subject {
        id: record.key_id.as_str(),
        tenant: &tenant,
        bot: bot.as_ref(),
        active: true,
    };
    caller.may(state, "bot:keys", subject).await?;
    Ok(record)
}

async fn keys_of_bot(state: &AppState, bot: &Bot) -> Result<Vec<KeyRecord>, ApiError> {
    let query = KeyQuery {
        tenant: Some(bot.tenant_id.to_auth()),
        ..KeyQuery::default()
    };
    let records = state
        .auth
        .keys()
        .store()
        .list(&query)
        .await
        .map_err(|e| store_unavailable(&e))?;
    Ok(records
        .into_iter()
        .filter(|r| r.metadata.get(BOT_LABEL).map(String::as_str) == Some(bot.id.as_str()))
        .collect())
}

fn bot_subject(bot: &Bot) -> Subject<'_> {
    Subject {
        id: bot.id.as_str(),
        tenant: &bot.tenant_id,
        bot: Some(&bot.id),
        active: bot.active,
    }
}

fn expiry(state: &AppState, days: Option<u32>) -> Result<Option<Timestamp>, ApiError> {
    let Some(days) = days else { return Ok(None) };
    if days == 0 {
        return Err(ApiError::unprocessable(
            "expires_in_days: must be at least 1",
        ));
    }
    let at = state
        .clock
        .now()
        .checked_add(SignedDuration::from_hours(24 * i64::from(days)))
        .map_err(|_| ApiError::unprocessable("expires_in_days: too far in the future"))?;
    Ok(Some(at))
}

fn origins(texts: &[String]) -> Result<Vec<OriginPattern>, ApiError> {
    texts
        .iter()
        .map(|o| {
            OriginPattern::parse(o)
                .map_err(|_| ApiError::unprocessable("allowed_origins: not a valid origin"))
        })
        .collect()
}

fn issued_view(issued: IssuedKey) -> KeyView {
    let key = issued.key.expose().to_owned();
    view(&issued.record, Some(key))
}

fn view(record: &KeyRecord, key: Option<String>) -> KeyView {
    KeyView {
        key,
        signing_secret: None,
        key_id: record.key_id.to_string(),
        prefix: record.prefix.clone(),
        tenant_id: record.tenant.as_str().to_owned(),
        bot_id: record.metadata.get(BOT_LABEL).cloned(),
        name: record.name.clone(),
        scopes: record.scopes.clone(),
        roles: record.roles.clone(),
        status: record.status.as_str(),
        created_at: record.created_at,
        expires_at: record.expires_at,
        last_used_at: record.last_used_at,
        allowed_ips: record.allowed_ips.clone(),
        replaced_by: record.replaced_by.as_ref().map(ToString::to_string),
    }
}

fn lifecycle(error: LifecycleError) -> ApiError {
    match error {
        LifecycleError::NotFound(_) => ApiError::not_found("key"),
        LifecycleError::WrongStatus { .. } | LifecycleError::AlreadyRotated { .. } => {
            ApiError::conflict(error.to_string())
        }
        LifecycleError::Store(e) => store_unavailable(&e),
        other => ApiError::unprocessable(other.to_string()),
    }
}

fn store_unavailable(error: &bee_auth::StoreError) -> ApiError {
    tracing::error!(error = %ErrorChain(error), "key store failed");
    ApiError::unavailable("the server cannot reach its key records; try again later")
}
