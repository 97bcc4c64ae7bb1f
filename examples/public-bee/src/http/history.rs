//! Conversation history for a bot's key, and erasure of a data subject.

use axum::Json;
use axum::extract::{Path, Query, State};
use bee_audit::{Activity, DataOperation, Target as AuditTarget};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ErrorChain};
use super::guard::Caller;
use crate::audit::label;
use crate::auth::Subject;
use crate::model::{BotId, Conversation, ConversationId, Role, TenantId};
use crate::sealing::SealingError;

/// Conversations listed at most.
const MAX_LISTED: u32 = 100;

/// One conversation with its messages.
#[derive(Debug, Serialize)]
pub(super) struct ConversationView {
    conversation_id: ConversationId,
    bot_id: BotId,
    created_at: Timestamp,
    updated_at: Timestamp,
    messages: Vec<MessageView>,
}

/// One message.
#[derive(Debug, Serialize)]
pub(super) struct MessageView {
    role: Role,
    content: String,
    timestamp: Timestamp,
}

/// A bot's conversations, most recent first.
#[derive(Debug, Serialize)]
pub(super) struct ConversationList {
    conversations: Vec<ConversationSummary>,
}

/// A conversation without its messages.
#[derive(Debug, Serialize)]
pub(super) struct ConversationSummary {
    conversation_id: ConversationId,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// `DELETE /api/admin/subjects/{subject_id}` query.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ErasureScope {
    tenant_id: Option<TenantId>,
}

/// What an erasure did.
#[derive(Debug, Serialize)]
pub(super) struct ErasureView {
    subject: String,
    key_destroyed: bool,
    conversations: u64,
}

/// `GET /api/public/conversations/{conversation_id}`: a conversation of the key's bot.
pub(super) async fn conversation(
    State(state): State<AppState>,
    caller: Caller,
    Path(conversation_id): Path<String>,
) -> Result<Json<ConversationView>, ApiError> {
    let not_found = || ApiError::not_found("conversation");
    let id = ConversationId::parse(&conversation_id).map_err(|_| not_found())?;
    let conversation = state.store.conversation(&id).await?.ok_or_else(not_found)?;
    let subject = Subject {
        id: conversation.id.as_str(),
        tenant: &conversation.tenant_id,
        bot: Some(&conversation.bot_id),
        active: true,
    };
    caller.may(&state, "chat:history", subject).await?;
    if conversation.erased_at.is_some() {
        return Err(not_found());
    }

    let mut messages = Vec::new();
    for message in state.store.messages(&conversation.id).await? {
        let content = match state.sealing.open(&conversation, &message).await {
            Ok(text) => text,
            Err(SealingError::Erased) => return Err(not_found()),
            Err(e) => {
                tracing::error!(error = %ErrorChain(&e), "a stored message does not open");
                return Err(ApiError::internal());
            }
        };
        messages.push(MessageView {
            role: message.role,
            content,
            timestamp: message.created_at,
        });
    }
    record_read(&state, &caller, &conversation).await;
    Ok(Json(ConversationView {
        conversation_id: conversation.id,
        bot_id: conversation.bot_id,
        created_at: conversation.created_at,
        updated_at: conversation.updated_at,
        messages,
    }))
}

/// `GET /api/public/bots/{bot_id}/conversations`: the key's bot's conversations.
pub(super) async fn conversations(
    State(state): State<AppState>,
    caller: Caller,
    Path(bot_id): Path<String>,
) -> Result<Json<ConversationList>, ApiError> {
    let not_found = || ApiError::not_found("bot");
    let id = BotId::parse(&bot_id).map_err(|_| not_found())?;
    let bot = state.store.bot(&id).await?.ok_or_else(not_found)?;
    let subject = Subject {
        id: bot.id.as_str(),
        tenant: &bot.tenant_id,
        bot: Some(&bot.id),
        active: true,
    };
    caller.may(&state, "chat:history", subject).await?;
    let listed = state
        .store
        .conversations_of_bot(&bot.id, MAX_LISTED)
        .await?;
    Ok(Json(ConversationList {
        conversations: listed
            .into_iter()
            .filter(|c| c.erased_at.is_none())
            .map(|c| ConversationSummary {
                conversation_id: c.id,
                created_at: c.created_at,
                updated_at: c.updated_at,
            })
            .collect(),
    }))
}

/// `DELETE /api/admin/subjects/{subject_id}`: erases a data subject of the caller's
/// tenant (an operator names the tenant with `?tenant_id=`). `subject_id` is the calling
/// application's user id, or a conversation id for a conversation without one. The
/// subject's key is destroyed (crypto-shredding: copies of the sealed messages in backups
/// no longer open), their messages are deleted and their conversations marked erased.
pub(super) async fn erase_subject(
    State(state): State<AppState>,
    caller: Caller,
    Path(subject_id): Path<String>,
    Query(scope): Query<ErasureScope>,
) -> Result<Json<ErasureView>, ApiError> {
    let tenant = scope
        .tenant_id
        .unwrap_or_else(|| caller.principal.tenant.clone());
    let subject = Subject {
        id: "",
        tenant: &tenant,
        bot: None,
        active: true,
    };
    caller.may(&state, "user:manage", subject).await?;

    // The stored subject: the conversation itself, or the user id's keyed pseudonym.
    let stored = match ConversationId::parse(&subject_id) {
        Ok(id) => id.to_string(),
        Err(_) => state
            .audit
            .subject(&tenant, &subject_id)
            .as_str()
            .to_owned(),
    };
    let key_destroyed = state.sealing.erase(&tenant, &stored).await.map_err(|e| {
        tracing::error!(error = %ErrorChain(&e), "erasure failed");
        ApiError::unavailable("the subject cannot be erased right now; try again")
    })?;
    let erasure = state
        .store
        .erase_subject(&tenant, &stored, state.clock.now())
        .await?;

    let pseudonym = state.audit.subject(&tenant, &stored);
    let scope_label = label("conversations");
    if let Some(scope) = scope_label {
        let activity = Activity::SubjectErasure {
            subject: pseudonym.clone(),
            scope,
        };
        state.audit.record(caller.event(&state, activity)).await;
    }
    tracing::info!(
        conversations = erasure.conversations,
        key_destroyed,
        "subject erased"
    );
    Ok(Json(ErasureView {
        subject: pseudonym.as_str().to_owned(),
        key_destroyed,
        conversations: erasure.conversations,
    }))
}

async fn record_read(state: &AppState, caller: &Caller, conversation: &Conversation) {
    let Some(resource_type) = label("conversation") else {
        return;
    };
    let activity = Activity::DataAccess {
        operation: DataOperation::Read,
        resource_type,
    };
    let target = AuditTarget {
        bot: label(conversation.bot_id.as_str()),
        resource: label(conversation.id.as_str()),
    };
    state
        .audit
        .record(caller.event(state, activity).target(target))
        .await;
}
