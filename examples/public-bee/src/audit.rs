//! Step 12: the audit trail through bee-audit: a chained log in `<data-dir>/audit/`,
//! recent events for the admin API, the monitor with its playbooks, pseudonymous subject
//! ids and the records of processing.
//!
//! The server decides what to record and carries out the playbooks' actions; scrubbing,
//! chaining, counting and planning are bee-audit's.

use std::path::PathBuf;
use std::sync::Arc;

use bee_audit::gdpr::ProcessingRegister;
use bee_audit::{
    Action, ActionError, ActionFuture, Actions, AuditSink, Auditor, ChainKey, ChainedFileSink,
    Event, FanOut, FileSinkConfig, Label, MemorySink, Monitor, MonitorConfig, Playbooks, Pseudonym,
    PseudonymKey, Pseudonymizer, Query, Record,
};
use jiff::Timestamp;

use crate::clock::Clock;
use crate::data_dir::DataDir;
use crate::model::{BotId, TenantId};

/// The chain key file inside `keys/`, in the form `bee audit verify --key-file` reads.
pub const CHAIN_KEY_FILE: &str = "audit-chain.key";
/// The key of subject pseudonyms inside `keys/`.
pub const PSEUDONYM_KEY_FILE: &str = "subject-pseudonym.key";
/// Recent events kept in memory for the admin API.
const RECENT_EVENTS: usize = 10_000;

/// What the server processes, for `GET /api/admin/processing-records`, unless a file
/// replaces it.
const DEFAULT_PROCESSING: &str = "\
records:
  - name: chat_conversations
    purpose: Answer end users' questions from the bot's documents and keep the conversation for the calling application.
    legal_basis: contract
    data_categories: [message_text, personal_data_in_messages]
    data_subjects: [end_users]
    recipients: [chat_backend_pseudonymised_text_only]
    retention_days: 90
  - name: security_audit_log
    purpose: Detect and investigate attacks on the service and prove what happened.
    legal_basis: legitimate_interests
    data_categories: [ip_address, api_key_id, subject_pseudonym]
    data_subjects: [api_callers, end_users]
    recipients: [operators]
    retention_days: 365
";

/// The audit trail of one server.
pub struct Audit {
    auditor: Auditor,
    recent: Arc<MemorySink>,
    pseudonyms: Pseudonymizer,
    processing: ProcessingRegister,
}

/// The audit trail could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AuditSetupError {
    /// A key file.
    #[error("audit key file")]
    Key(#[from] bee_audit::KeyError),
    /// The log directory.
    #[error("audit log")]
    Open(#[from] bee_audit::OpenError),
    /// The monitor configuration.
    #[error("audit monitor configuration")]
    Monitor(#[from] bee_audit::monitor::ConfigError),
    /// The records of processing.
    #[error("records of processing")]
    Processing(#[from] bee_audit::gdpr::RegisterError),
    /// A configuration file cannot be read.
    #[error("cannot read {0}")]
    Read(PathBuf, #[source] std::io::Error),
}

/// Files that replace the audit defaults.
#[derive(Debug, Clone, Default)]
pub struct AuditFiles {
    /// bee-audit monitor rules (YAML); default: bee-audit's rules.
    pub monitor: Option<PathBuf>,
    /// Records of processing (YAML); default: the server's two records.
    pub processing: Option<PathBuf>,
}

impl Audit {
    /// Opens the chained log in `<data-dir>/audit/` (creating its key on first start),
    /// with the monitor and playbooks acting through `actions`.
    ///
    /// # Errors
    ///
    /// When a key file or the log cannot be opened, or a configuration is not valid.
    pub fn open(
        data_dir: &DataDir,
        files: &AuditFiles,
        clock: Arc<dyn Clock>,
        actions: Arc<dyn Actions>,
        pii: Arc<crate::pii::Pii>,
    ) -> Result<Self, AuditSetupError> {
        let clock: Arc<dyn bee_audit::Clock> = Arc::new(AuditClock(clock));
        let key = ChainKey::read_or_create_file(data_dir.key_path(CHAIN_KEY_FILE))?;
        let pseudonym_key =
            PseudonymKey::read_or_create_file(data_dir.key_path(PSEUDONYM_KEY_FILE))?;

        let (file, opened) = ChainedFileSink::open(
            FileSinkConfig::new(data_dir.audit()),
            &key,
            Arc::clone(&clock),
        )?;
        if let Some(torn) = opened.torn {
            tracing::warn!(file = %torn.file.display(), line = torn.line, "audit log had a torn last line; it was set aside");
        }
        let recent = Arc::new(MemorySink::new(RECENT_EVENTS));
        let sinks: Vec<Arc<dyn AuditSink>> = vec![Arc::new(file), recent.clone()];
        let sink: Arc<dyn AuditSink> = Arc::new(FanOut::new(sinks));

        let monitor_config = match &files.monitor {
            Some(path) => MonitorConfig::from_yaml(&read(path)?)?,
            None => MonitorConfig::default(),
        };
        let processing = match &files.processing {
            Some(path) => ProcessingRegister::from_yaml(&read(path)?)?,
            None => ProcessingRegister::from_yaml(DEFAULT_PROCESSING)?,
        };
        // Free text in events passes bee-pii's redactor before any sink sees it.
        let scrubber = Arc::new(move |text: &str| pii.redact(text));
        let auditor = Auditor::builder(sink, Arc::clone(&clock))
            .scrubber(scrubber)
            .monitor(Monitor::new(monitor_config, clock)?)
            .playbooks(Playbooks::default(), actions)
            .build();
        Ok(Self {
            auditor,
            recent,
            pseudonyms: Pseudonymizer::new(pseudonym_key),
            processing,
        })
    }

    /// Records an event; a failure to write is logged, and the request goes on.
    pub async fn record(&self, event: Event) {
        if let Err(e) = self.auditor.record(event).await {
            tracing::error!(error = %crate::http::error::ErrorChain(&e), "audit write failed");
        }
    }

    /// Recent events of this instance matching `query`, newest first.
    pub fn recent(&self, query: &Query) -> Vec<Record> {
        self.recent.query(query)
    }

    /// The keyed pseudonym of an end user of a tenant: the same user id in two tenants
    /// gives two unrelated pseudonyms.
    pub fn subject(&self, tenant: &TenantId, user_id: &str) -> Pseudonym {
        self.pseudonyms
            .pseudonym(&format!("{}\u{1f}{user_id}", tenant.as_str()))
    }

    /// The records of processing.
    pub fn processing(&self) -> &ProcessingRegister {
        &self.processing
    }

    /// Makes every recorded event durable (at shutdown).
    ///
    /// # Errors
    ///
    /// When the log cannot be synced.
    pub async fn flush(&self) -> Result<(), bee_audit::AuditError> {
        self.auditor.flush().await
    }
}

/// A label from text the server made (ids, codes); `None` for anything that is not one.
pub fn label(text: &str) -> Option<Label> {
    Label::new(text).ok()
}

fn read(path: &std::path::Path) -> Result<String, AuditSetupError> {
    std::fs::read_to_string(path).map_err(|e| AuditSetupError::Read(path.to_owned(), e))
}

/// The server's clock, as bee-audit's.
struct AuditClock(Arc<dyn Clock>);

impl bee_audit::Clock for AuditClock {
    fn now(&self) -> Timestamp {
        self.0.now()
    }
}

/// Carries out playbook actions with the server's parts: addresses through
/// bee-ratelimit's block list, keys through bee-auth, bots through the records.
pub struct ServerActions {
    keys: Arc<crate::auth::Auth>,
    store: Arc<dyn crate::store::Store>,
    limits: Arc<crate::limits::Limits>,
}

impl ServerActions {
    /// Actions over these keys, records and block list.
    pub fn new(
        keys: Arc<crate::auth::Auth>,
        store: Arc<dyn crate::store::Store>,
        limits: Arc<crate::limits::Limits>,
    ) -> Self {
        Self {
            keys,
            store,
            limits,
        }
    }

    async fn take_action(&self, action: &Action) -> Result<(), ActionError> {
        match action {
            Action::SuspendKey { key } => {
                let id = key
                    .key_id()
                    .and_then(|id| bee_auth::KeyId::parse(id).ok())
                    .ok_or_else(|| ActionError("no whole key id".into()))?;
                self.keys
                    .keys()
                    .suspend(&id)
                    .await
                    .map(|_| ())
                    .map_err(|e| ActionError(e.to_string()))
            }
            Action::QuarantineBot { bot } => self.quarantine(bot.as_str()).await,
            Action::BlockAddress { address, duration } => self
                .limits
                .block(*address, *duration, "audit_playbook")
                .await
                .map_err(|e| ActionError(e.to_string())),
            other => Err(ActionError(format!(
                "{} is not available in this build",
                other.name()
            ))),
        }
    }

    async fn quarantine(&self, bot: &str) -> Result<(), ActionError> {
        let failed = |e: &dyn std::fmt::Display| ActionError(e.to_string());
        let id = BotId::parse(bot).map_err(|e| failed(&e))?;
        let Some(mut record) = self.store.bot(&id).await.map_err(|e| failed(&e))? else {
            return Err(ActionError("no such bot".into()));
        };
        record.active = false;
        self.store
            .update_bot(&record)
            .await
            .map_err(|e| failed(&e))?;
        Ok(())
    }
}

impl Actions for ServerActions {
    fn take<'a>(&'a self, action: &'a Action) -> ActionFuture<'a> {
        Box::pin(self.take_action(action))
    }
}
