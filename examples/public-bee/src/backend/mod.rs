//! Chat backends: what turns a (pseudonymised) message into an answer.
//!
//! Every backend implements [`ChatBackend`]. The server ships two: [`OfflineResponder`],
//! which answers from the bot's knowledge entries with no network (the default), and
//! [`OpenAiBackend`], which calls any OpenAI-compatible chat completions endpoint. Tests
//! plug in their own to see exactly what text a backend was given.

use std::future::Future;
use std::pin::Pin;

use crate::model::{KnowledgeEntry, Role};

mod offline;
mod openai;
mod retrieval;

pub use offline::{NO_ANSWER, OfflineResponder};
pub use openai::OpenAiBackend;
pub use retrieval::{Retrieval, Scored};

/// The future a [`ChatBackend`] returns.
pub type BackendFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ChatReply, BackendError>> + Send + 'a>>;

/// Something that answers chat messages. Used as `Arc<dyn ChatBackend>`.
pub trait ChatBackend: Send + Sync {
    /// Answers the last message of `request`.
    fn reply<'a>(&'a self, request: &'a ChatRequest) -> BackendFuture<'a>;
}

/// Everything a backend is given for one answer. In the server's pipeline every text in
/// it has been pseudonymised first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    /// The bot's instructions.
    pub system_prompt: String,
    /// The bot's documents.
    pub knowledge: Vec<KnowledgeEntry>,
    /// Earlier turns of the conversation, oldest first.
    pub history: Vec<Turn>,
    /// The message to answer.
    pub message: String,
}

/// One earlier turn of a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// Who wrote it.
    pub role: Role,
    /// What they wrote.
    pub text: String,
}

/// A backend's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatReply {
    /// The answer text.
    pub text: String,
    /// Tokens used, as the backend counts them.
    pub tokens_used: u32,
    /// Titles of the knowledge entries the answer drew on.
    pub sources: Vec<String>,
}

/// A backend that could not answer. Messages never carry the backend's own reply, which
/// could echo the prompt.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The backend could not be reached or did not answer in time.
    #[error("the chat backend cannot be reached")]
    Unreachable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The backend answered with an error status.
    #[error("the chat backend answered with status {0}")]
    Status(u16),
    /// The backend's answer could not be read.
    #[error("the chat backend's answer is not valid")]
    Malformed,
}
