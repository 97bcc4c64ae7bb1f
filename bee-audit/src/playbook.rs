//! Turning alerts into actions.
//!
//! [`Playbooks`] decides which [`Action`]s answer an [`Alert`]; the host carries them out
//! through its implementation of [`Actions`] (its block list, key store, session store),
//! and the [`Auditor`](crate::Auditor) records each action taken as an
//! [`Activity::IncidentAction`](crate::Activity::IncidentAction) event.
//!
//! | alert | actions |
//! |---|---|
//! | brute force | block the address (1 h by default); suspend the key, when one was used |
//! | flood | block the address |
//! | PII leak | end the session; quarantine the bot when more than two kinds leaked |
//! | API abuse | throttle the key |

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::ActionRecord;
use crate::fields::{KeyRef, Label};
use crate::monitor::{Alert, AlertKind, GroupValue};

/// An action a playbook asks the host to take.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Action {
    /// Refuse requests from an address for a while.
    BlockAddress {
        /// The address.
        address: IpAddr,
        /// For how long.
        duration: Duration,
    },
    /// Suspend an API key until an operator reactivates it.
    SuspendKey {
        /// The key.
        key: KeyRef,
    },
    /// End a session or conversation.
    EndSession {
        /// The session.
        session: Label,
    },
    /// Take a bot out of service until an operator looks at it.
    QuarantineBot {
        /// The bot.
        bot: Label,
    },
    /// Lower a key's rate limits for a while.
    ThrottleKey {
        /// The key.
        key: KeyRef,
        /// For how long.
        duration: Duration,
    },
}

impl Action {
    /// The action's name, as recorded in the log.
    pub fn name(&self) -> &'static str {
        match self {
            Self::BlockAddress { .. } => "block_address",
            Self::SuspendKey { .. } => "suspend_key",
            Self::EndSession { .. } => "end_session",
            Self::QuarantineBot { .. } => "quarantine_bot",
            Self::ThrottleKey { .. } => "throttle_key",
        }
    }

    /// The action as an event field; keys appear masked.
    pub fn record(&self, error: Option<String>) -> ActionRecord {
        let (subject, duration) = match self {
            Self::BlockAddress { address, duration } => (address.to_string(), Some(*duration)),
            Self::SuspendKey { key } => (key.masked(), None),
            Self::EndSession { session } => (session.to_string(), None),
            Self::QuarantineBot { bot } => (bot.to_string(), None),
            Self::ThrottleKey { key, duration } => (key.masked(), Some(*duration)),
        };
        ActionRecord {
            name: Label::builtin(self.name()),
            subject,
            duration_secs: duration.map(|d| d.as_secs()),
            error,
        }
    }
}

/// Why the host could not take an action (its own description; scrubbed when logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ActionError(pub String);

/// The future an [`Actions`] method returns.
pub type ActionFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ActionError>> + Send + 'a>>;

/// Carries out actions; implemented by the host (its block list, key store, sessions).
pub trait Actions: Send + Sync {
    /// Takes `action`.
    fn take<'a>(&'a self, action: &'a Action) -> ActionFuture<'a>;
}

/// Records actions instead of taking them: for tests, and for a monitor-only mode.
#[derive(Debug, Default)]
pub struct RecordedActions {
    taken: Mutex<Vec<Action>>,
}

impl RecordedActions {
    /// The actions asked for so far, in order.
    pub fn taken(&self) -> Vec<Action> {
        self.taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Actions for RecordedActions {
    fn take<'a>(&'a self, action: &'a Action) -> ActionFuture<'a> {
        self.taken
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(action.clone());
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Settings of the playbooks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlaybookConfig {
    /// How long brute force blocks an address, in seconds (default 3600).
    pub brute_force_block_secs: u64,
    /// How long a flood blocks an address, in seconds (default 3600).
    pub flood_block_secs: u64,
    /// How long API abuse throttles a key, in seconds (default 3600).
    pub throttle_secs: u64,
    /// A PII leak quarantines the bot when more kinds than this leaked (default 2).
    pub quarantine_above_kinds: usize,
}

impl Default for PlaybookConfig {
    fn default() -> Self {
        Self {
            brute_force_block_secs: 3600,
            flood_block_secs: 3600,
            throttle_secs: 3600,
            quarantine_above_kinds: 2,
        }
    }
}

/// Decides which actions answer an alert.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Playbooks {
    config: PlaybookConfig,
}

impl Playbooks {
    /// Playbooks with `config`.
    pub fn new(config: PlaybookConfig) -> Self {
        Self { config }
    }

    /// The actions for `alert`, in the order they should be taken. Actions whose
    /// subject the alert does not name (a brute force without a key) are left out.
    pub fn plan(&self, alert: &Alert) -> Vec<Action> {
        let c = &self.config;
        let address = address_of(alert);
        let key = key_of(alert);
        let mut actions = Vec::new();
        match alert.kind {
            AlertKind::BruteForce => {
                actions.extend(address.map(|address| Action::BlockAddress {
                    address,
                    duration: Duration::from_secs(c.brute_force_block_secs),
                }));
                actions.extend(key.map(|key| Action::SuspendKey { key }));
            }
            AlertKind::Flood => {
                actions.extend(address.map(|address| Action::BlockAddress {
                    address,
                    duration: Duration::from_secs(c.flood_block_secs),
                }));
            }
            AlertKind::PiiLeak => {
                actions.extend(session_of(alert).map(|session| Action::EndSession { session }));
                if alert.labels.len() > c.quarantine_above_kinds {
                    let bot = alert.trigger.target.bot.clone();
                    actions.extend(bot.map(|bot| Action::QuarantineBot { bot }));
                }
            }
            AlertKind::ApiAbuse => {
                actions.extend(key.map(|key| Action::ThrottleKey {
                    key,
                    duration: Duration::from_secs(c.throttle_secs),
                }));
            }
            AlertKind::Other => {}
        }
        actions
    }
}

/// The alert's kind as a playbook name.
pub(crate) fn playbook_name(kind: AlertKind) -> Label {
    Label::builtin(match kind {
        AlertKind::BruteForce => "brute_force",
        AlertKind::Flood => "flood",
        AlertKind::PiiLeak => "pii_leak",
        AlertKind::ApiAbuse => "api_abuse",
        AlertKind::Other => "other",
    })
}

fn address_of(alert: &Alert) -> Option<IpAddr> {
    match &alert.group {
        GroupValue::Address(address) => Some(*address),
        _ => alert.trigger.source.address,
    }
}

/// The key, only when its whole public id is known (a masked key cannot be acted on).
fn key_of(alert: &Alert) -> Option<KeyRef> {
    let key = match &alert.group {
        GroupValue::Key(key) => Some(key.clone()),
        _ => alert.trigger.actor.key.clone(),
    };
    key.filter(|k| k.key_id().is_some())
}

fn session_of(alert: &Alert) -> Option<Label> {
    match &alert.group {
        GroupValue::Session(session) => Some(session.clone()),
        _ => alert.trigger.actor.session.clone(),
    }
}
