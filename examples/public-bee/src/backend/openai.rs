//! A backend that calls an OpenAI-compatible chat completions endpoint.

use serde::{Deserialize, Serialize};

use super::retrieval::Retrieval;
use super::{BackendError, BackendFuture, ChatBackend, ChatReply, ChatRequest};
use crate::config::OpenAiConfig;
use crate::model::Role;

/// Knowledge entries sent along with a message at most.
const MAX_CONTEXT_ENTRIES: usize = 3;

/// Calls `POST {base_url}/chat/completions`.
///
/// The system message holds the bot's instructions followed by the knowledge entries that
/// match the message best (the same lexical retrieval as the offline responder); those
/// entries are the answer's sources. Error messages never include the endpoint's reply.
#[derive(Debug, Clone)]
pub struct OpenAiBackend {
    client: reqwest::Client,
    config: OpenAiConfig,
}

impl OpenAiBackend {
    /// A backend with its own HTTP client.
    ///
    /// # Errors
    ///
    /// When the HTTP client cannot be built (no TLS roots on the system).
    pub fn new(config: OpenAiConfig) -> Result<Self, BackendError> {
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| BackendError::Unreachable(Box::new(e)))?;
        Ok(Self { client, config })
    }
}

impl ChatBackend for OpenAiBackend {
    fn reply<'a>(&'a self, request: &'a ChatRequest) -> BackendFuture<'a> {
        Box::pin(self.call(request))
    }
}

impl OpenAiBackend {
    async fn call(&self, request: &ChatRequest) -> Result<ChatReply, BackendError> {
        let hits = Retrieval::new(&request.knowledge).search(&request.message, MAX_CONTEXT_ENTRIES);
        let sources: Vec<String> = hits.iter().map(|h| h.entry.title.clone()).collect();
        let body = Completion {
            model: &self.config.model,
            messages: messages(request, &hits),
        };

        let mut call = self
            .client
            .post(format!("{}/chat/completions", self.config.base_url))
            .json(&body);
        if let Some(key) = &self.config.api_key {
            call = call.bearer_auth(key.expose());
        }
        let response = call
            .send()
            .await
            .map_err(|e| BackendError::Unreachable(Box::new(e.without_url())))?;
        if !response.status().is_success() {
            return Err(BackendError::Status(response.status().as_u16()));
        }
        let answer: CompletionAnswer =
            response.json().await.map_err(|_| BackendError::Malformed)?;
        let choice = answer
            .choices
            .into_iter()
            .next()
            .ok_or(BackendError::Malformed)?;
        Ok(ChatReply {
            tokens_used: answer.usage.map_or(0, |u| u.total_tokens),
            text: choice.message.content,
            sources,
        })
    }
}

#[derive(Serialize)]
struct Completion<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
}

#[derive(Serialize)]
struct Message<'a> {
    role: &'static str,
    content: std::borrow::Cow<'a, str>,
}

#[derive(Deserialize)]
struct CompletionAnswer {
    choices: Vec<Choice>,
    usage: Option<Usage>,
}

#[derive(Deserialize)]
struct Choice {
    message: AnswerMessage,
}

#[derive(Deserialize)]
struct AnswerMessage {
    content: String,
}

#[derive(Deserialize)]
struct Usage {
    total_tokens: u32,
}

fn messages<'a>(request: &'a ChatRequest, hits: &[super::Scored<'_>]) -> Vec<Message<'a>> {
    let mut system = request.system_prompt.clone();
    if !hits.is_empty() {
        system.push_str("\n\nAnswer from these documents:");
        for hit in hits {
            system.push_str(&format!(
                "\n\n## {}\n{}",
                hit.entry.title, hit.entry.content
            ));
        }
    }
    let mut messages = vec![Message {
        role: "system",
        content: system.into(),
    }];
    messages.extend(request.history.iter().map(|turn| Message {
        role: match turn.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        },
        content: turn.text.as_str().into(),
    }));
    messages.push(Message {
        role: "user",
        content: request.message.as_str().into(),
    });
    messages
}
