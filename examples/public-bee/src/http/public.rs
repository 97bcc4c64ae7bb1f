//! Endpoints anyone may call: health and the public bot directory.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use crate::model::{Bot, BotId};
use crate::store::BotQuery;

/// `GET /health` answer.
#[derive(Debug, Serialize)]
pub(super) struct Health {
    /// `ok` when the records can be reached.
    status: &'static str,
}

/// A bot as the public sees it: no instructions, knowledge, origins or limits.
#[derive(Debug, Serialize)]
pub(super) struct PublicBot {
    /// Its id.
    id: String,
    /// Its short name.
    name: String,
    /// Its display name.
    display_name: String,
    /// Its description.
    description: String,
}

/// `GET /api/public/bots` answer.
#[derive(Debug, Serialize)]
pub(super) struct PublicBots {
    /// The public, active bots.
    bots: Vec<PublicBot>,
}

/// `GET /health`: 200 when the records can be reached, 503 otherwise.
pub(super) async fn health(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    state.store.ping().await?;
    Ok(Json(Health { status: "ok" }))
}

/// `GET /api/public/bots`.
pub(super) async fn list_bots(State(state): State<AppState>) -> Result<Json<PublicBots>, ApiError> {
    let query = BotQuery {
        tenant: None,
        public_only: true,
    };
    let bots = state.store.bots(&query).await?;
    Ok(Json(PublicBots {
        bots: bots.into_iter().map(PublicBot::from).collect(),
    }))
}

/// `GET /api/public/bots/{bot_id}`: 404 for a bot that is not public and active.
pub(super) async fn bot(
    State(state): State<AppState>,
    Path(bot_id): Path<String>,
) -> Result<Json<PublicBot>, ApiError> {
    let not_found = || ApiError::not_found("bot");
    let id = BotId::parse(&bot_id).map_err(|_| not_found())?;
    let bot = state.store.bot(&id).await?.ok_or_else(not_found)?;
    if !(bot.public && bot.active) {
        return Err(not_found());
    }
    Ok(Json(PublicBot::from(bot)))
}

impl From<Bot> for PublicBot {
    fn from(bot: Bot) -> Self {
        Self {
            id: bot.id.into(),
            name: bot.name,
            display_name: bot.display_name,
            description: bot.description,
        }
    }
}
