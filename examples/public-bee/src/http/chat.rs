//! `POST /api/public/chat/{bot_id}/message`: the chat pipeline.

use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use bee_audit::{
    AbuseResponse, Activity, DataOperation, Direction, Outcome, Target as AuditTarget,
};
use bee_ratelimit::Decision;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorChain};
use super::guard::{self, Caller};
use super::json;
use crate::audit::label;
use crate::auth::{Denied, Subject};
use crate::backend::{ChatRequest, Turn};
use crate::model::{Bot, BotId, Conversation, ConversationId, Role, StoredMessage};
use crate::pii::Pseudonyms;
use crate::store::StoreError;

/// Longest accepted `user_id`, in bytes.
const MAX_USER_ID: usize = 256;

/// The chat request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChatMessage {
    message: String,
    conversation_id: Option<String>,
    user_id: Option<String>,
}

/// The chat answer.
#[derive(Debug, Serialize)]
pub(super) struct ChatAnswer {
    response: String,
    conversation_id: ConversationId,
    bot_id: BotId,
    processing_time_ms: u64,
    tokens_used: u32,
    sources: Vec<String>,
    timestamp: Timestamp,
}

/// The pipeline after the first step's layers and the key check (the [`Caller`]
/// extractor): signature, authorisation, conversation, backend, records, audit.
pub(super) async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path(bot_id): Path<String>,
    head: http::request::Parts,
    raw: Bytes,
) -> Result<(http::HeaderMap, Json<ChatAnswer>), ApiError> {
    let started = Instant::now();
    let bot = find_bot(&state, &bot_id).await?;

    // Step 4.
    if bot.require_signature {
        check_signature(&state, &caller, &head, &raw).await?;
    }
    let body: ChatMessage = json::parse(&head.headers, &raw)?;

    // Step 5.
    let subject = Subject {
        id: bot.id.as_str(),
        tenant: &bot.tenant_id,
        bot: Some(&bot.id),
        active: bot.active,
    };
    caller.may(&state, "chat:send", subject).await?;

    // Steps 2 (patterns of this address's messages) and 6.
    screen(&state, &caller, &bot, &body.message).await?;
    let limit = rate_limit(&state, &caller, &bot).await?;

    // Step 7.
    let message = state.pii.check(&body.message).map_err(|e| {
        ApiError::unprocessable(format!("message: refused by the {} rule", e.rule()))
    })?;

    let user_id = body.user_id.as_deref().map(check_user_id).transpose()?;
    let (conversation, is_new) =
        find_or_start(&state, &bot, body.conversation_id.as_deref(), user_id).await?;
    let earlier = if is_new {
        Vec::new()
    } else {
        history(&state, &conversation).await?
    };

    // Step 8: the backend sees placeholders only.
    record_pii(
        &state,
        &caller,
        &conversation,
        &state.pii.kinds(&message.text),
        Direction::Input,
    )
    .await;
    let pseudonyms = state.pii.pseudonyms();
    let request = ChatRequest {
        system_prompt: bot.system_prompt.clone(),
        knowledge: bot.knowledge.clone(),
        history: recent_turns(&state, &pseudonyms, &earlier),
        message: state.pii.pseudonymise(&pseudonyms, &message.text),
    };

    // Step 9.
    let reply = state.backend.reply(&request).await.map_err(|e| {
        tracing::warn!(error = %ErrorChain(&e), "chat backend failed");
        ApiError::unavailable("the chat backend cannot answer right now; try again later")
    })?;

    // Step 10.
    let answer = state.pii.scan(&pseudonyms, &reply.text);
    record_pii(
        &state,
        &caller,
        &conversation,
        &answer.leaked,
        Direction::Output,
    )
    .await;

    // Step 11.
    let next = i64::try_from(earlier.len()).unwrap_or(i64::MAX);
    store_exchange(
        &state,
        &conversation,
        is_new,
        next,
        &message.text,
        &answer.text,
    )
    .await?;

    // Step 12.
    record_exchange(&state, &caller, &bot, &conversation).await;

    let mut headers = http::HeaderMap::new();
    for (name, value) in bee_ratelimit::headers::fields(&limit) {
        if let Ok(value) = http::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    let answer = Json(ChatAnswer {
        response: answer.text,
        conversation_id: conversation.id,
        bot_id: bot.id,
        processing_time_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        tokens_used: reply.tokens_used,
        sources: reply.sources,
        timestamp: state.clock.now(),
    });
    Ok((headers, answer))
}

/// The abuse detector's view of this message from this address: a block is refused with
/// 403, a throttle or challenge with 429 (the server has no challenge to offer).
async fn screen(
    state: &AppState,
    caller: &Caller,
    bot: &Bot,
    message: &str,
) -> Result<(), ApiError> {
    let assessment = state
        .limits
        .assess(caller.addr, Some(message), false)
        .await
        .map_err(|e| {
            tracing::error!(error = %ErrorChain(&e), "abuse detector unavailable");
            ApiError::unavailable("the server cannot check this request right now")
        })?;
    let (response, error) = match assessment.action {
        bee_ratelimit::Action::Allow => return Ok(()),
        bee_ratelimit::Action::Block => (AbuseResponse::Block, ApiError::blocked()),
        bee_ratelimit::Action::Challenge => (
            AbuseResponse::Challenge,
            ApiError::rate_limited(vec![("retry-after", "60".into())]),
        ),
        bee_ratelimit::Action::Throttle => (
            AbuseResponse::Throttle,
            ApiError::rate_limited(vec![("retry-after", "10".into())]),
        ),
    };
    let reason = assessment
        .patterns
        .first()
        .and_then(|(p, _)| label(p.code()));
    let activity = Activity::AbuseAction {
        action: response,
        reason,
    };
    let target = AuditTarget {
        bot: label(bot.id.as_str()),
        resource: None,
    };
    state
        .audit
        .record(caller.event(state, activity).target(target))
        .await;
    Err(error)
}

/// The bot's tiers for this key and this address.
async fn rate_limit(state: &AppState, caller: &Caller, bot: &Bot) -> Result<Decision, ApiError> {
    let key_id = caller.principal.record.key_id.as_str();
    let decision = state
        .limits
        .check(bot, key_id, caller.addr)
        .await
        .map_err(|e| {
            tracing::error!(error = %ErrorChain(&e), "rate limiter unavailable");
            ApiError::unavailable("the server cannot check limits right now")
        })?;
    if decision.admitted() {
        return Ok(decision);
    }
    let tier = decision.denied_by().map_or("limit", |t| t.name());
    if let Some(limit) = label(tier) {
        let activity = Activity::RateLimit {
            limit,
            retry_after_secs: bee_ratelimit::headers::retry_after_secs(&decision),
        };
        let target = AuditTarget {
            bot: label(bot.id.as_str()),
            resource: None,
        };
        let event = caller
            .event(state, activity)
            .target(target)
            .outcome(Outcome::Failure);
        state.audit.record(event).await;
    }
    Err(ApiError::rate_limited(bee_ratelimit::headers::fields(
        &decision,
    )))
}

/// The request's signature under the key's signing secret (sealed in the records).
async fn check_signature(
    state: &AppState,
    caller: &Caller,
    head: &http::request::Parts,
    raw: &[u8],
) -> Result<(), ApiError> {
    let key_id = caller.principal.record.key_id.as_str();
    let refused = |denied: Denied| async move {
        if let Some(method) = label("signature") {
            let activity = Activity::Authentication {
                method,
                reason: label(denied.code()),
            };
            let event = caller.event(state, activity).outcome(Outcome::Failure);
            state.audit.record(event).await;
        }
        Err(guard::refused(&denied))
    };
    let Some(sealed) = state.store.signing_secret(key_id).await? else {
        return refused(Denied::BadSignature(bee_auth::SignatureRejection::Mismatch)).await;
    };
    let secret = state
        .sealing
        .open_signing_secret(key_id, &sealed)
        .ok()
        .and_then(|bytes| bee_auth::SigningSecret::from_bytes(&bytes).ok());
    let Some(secret) = secret else {
        tracing::error!("a signing secret does not open");
        return Err(ApiError::internal());
    };
    match state.auth.verify_signature(head, raw, secret, key_id).await {
        Ok(()) => Ok(()),
        Err(denied) => refused(denied).await,
    }
}

async fn find_bot(state: &AppState, bot_id: &str) -> Result<Bot, ApiError> {
    let not_found = || ApiError::not_found("bot");
    let id = BotId::parse(bot_id).map_err(|_| not_found())?;
    state.store.bot(&id).await?.ok_or_else(not_found)
}

fn check_user_id(user_id: &str) -> Result<&str, ApiError> {
    if user_id.is_empty() || user_id.len() > MAX_USER_ID {
        return Err(ApiError::unprocessable("user_id: must be 1 to 256 bytes"));
    }
    Ok(user_id)
}

/// The conversation the message belongs to: the one named, if it is this bot's and this
/// user's and not erased, or a new one (stored with its first messages, so that a failed
/// request leaves nothing behind), and whether it is new. The subject is the keyed pseudonym of the
/// caller's user id, or the conversation itself when no user id is given.
async fn find_or_start(
    state: &AppState,
    bot: &Bot,
    id: Option<&str>,
    user_id: Option<&str>,
) -> Result<(Conversation, bool), ApiError> {
    let subject = |conversation: &ConversationId| match user_id {
        Some(user) => state
            .audit
            .subject(&bot.tenant_id, user)
            .as_str()
            .to_owned(),
        None => conversation.to_string(),
    };
    if let Some(id) = id {
        // Another bot's, another user's, an erased or a made-up conversation all look the
        // same from outside.
        let not_found = || ApiError::not_found("conversation");
        let id = ConversationId::parse(id).map_err(|_| not_found())?;
        let found = state.store.conversation(&id).await?.ok_or_else(not_found)?;
        let same = found.bot_id == bot.id && found.subject_id == subject(&found.id);
        if !same || found.erased_at.is_some() {
            return Err(not_found());
        }
        return Ok((found, false));
    }
    let now = state.clock.now();
    let id = ConversationId::random();
    let conversation = Conversation {
        subject_id: subject(&id),
        id,
        tenant_id: bot.tenant_id.clone(),
        bot_id: bot.id.clone(),
        created_at: now,
        updated_at: now,
        erased_at: None,
    };
    Ok((conversation, true))
}

/// The conversation's stored messages, opened, oldest first.
async fn history(state: &AppState, conversation: &Conversation) -> Result<Vec<Turn>, ApiError> {
    let mut turns = Vec::new();
    for message in state.store.messages(&conversation.id).await? {
        let text = state
            .sealing
            .open(conversation, &message)
            .await
            .map_err(|e| {
                tracing::error!(error = %ErrorChain(&e), "a stored message does not open");
                ApiError::internal()
            })?;
        turns.push(Turn {
            role: message.role,
            text,
        });
    }
    Ok(turns)
}

/// The last turns the configuration allows, pseudonymised with this request's vault.
fn recent_turns(state: &AppState, pseudonyms: &Pseudonyms, earlier: &[Turn]) -> Vec<Turn> {
    let keep = state.history_turns.saturating_mul(2);
    earlier[earlier.len().saturating_sub(keep)..]
        .iter()
        .map(|turn| Turn {
            role: turn.role,
            text: state.pii.pseudonymise(pseudonyms, &turn.text),
        })
        .collect()
}

/// The user's message and the answer, sealed, appended at `seq` and `seq + 1`.
async fn store_exchange(
    state: &AppState,
    conversation: &Conversation,
    is_new: bool,
    seq: i64,
    question: &str,
    answer: &str,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let mut messages = Vec::with_capacity(2);
    for (offset, role, text) in [(0, Role::User, question), (1, Role::Assistant, answer)] {
        let sealed = state
            .sealing
            .seal(conversation, seq + offset, role, text)
            .await
            .map_err(|e| {
                tracing::error!(error = %ErrorChain(&e), "sealing failed");
                ApiError::unavailable("the conversation cannot be stored right now")
            })?;
        messages.push(StoredMessage {
            conversation_id: conversation.id.clone(),
            seq: seq + offset,
            role,
            sealed,
            created_at: now,
        });
    }
    let stored = if is_new {
        state
            .store
            .start_conversation(conversation, &messages)
            .await
    } else {
        state
            .store
            .append_messages(&conversation.id, &messages, now)
            .await
    };
    match stored {
        Ok(()) => Ok(()),
        Err(StoreError::Conflict) => Err(ApiError::conflict(
            "another message of this conversation was stored first; send it again",
        )),
        Err(e) => Err(e.into()),
    }
}

/// A `pii_detected` event naming the kinds found (never the values).
async fn record_pii(
    state: &AppState,
    caller: &Caller,
    conversation: &Conversation,
    kinds: &[String],
    direction: Direction,
) {
    if kinds.is_empty() {
        return;
    }
    let activity = Activity::PiiDetected {
        kinds: kinds.iter().filter_map(|k| label(k)).collect(),
        count: u32::try_from(kinds.len()).unwrap_or(u32::MAX),
        direction,
    };
    let mut event = caller.event(state, activity);
    let mut actor = event.actor.clone();
    actor.session = label(conversation.id.as_str());
    event = event.actor(actor).target(AuditTarget {
        bot: label(conversation.bot_id.as_str()),
        resource: label(conversation.id.as_str()),
    });
    state.audit.record(event).await;
}

async fn record_exchange(
    state: &AppState,
    caller: &Caller,
    bot: &Bot,
    conversation: &Conversation,
) {
    let Some(resource_type) = label("conversation") else {
        return;
    };
    let activity = Activity::DataAccess {
        operation: DataOperation::Write,
        resource_type,
    };
    let target = AuditTarget {
        bot: label(bot.id.as_str()),
        resource: label(conversation.id.as_str()),
    };
    state
        .audit
        .record(caller.event(state, activity).target(target))
        .await;
}
