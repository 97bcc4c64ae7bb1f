//! Steps 7, 8 and 10 through bee-pii: message validation, pseudonymisation before the
//! backend, and the answer scanned and restored.

use std::sync::Arc;

use bee_pii::{CheckedMessage, Detector, MessageError, MessagePolicy, Redactor, Vault};

/// Detection, redaction and validation settings of one server.
#[derive(Clone)]
pub struct Pii {
    detector: Detector,
    redactor: Redactor,
    policy: MessagePolicy,
}

/// One conversation's pseudonyms, for one request.
pub struct Pseudonyms {
    vault: Arc<Vault>,
}

/// What the scan of an answer found and did.
#[derive(Debug)]
pub struct Scanned {
    /// The answer with the user's own values put back and anything else redacted.
    pub text: String,
    /// Kinds of personal data the backend's answer held that were not placeholders.
    pub leaked: Vec<String>,
}

impl Pii {
    /// bee-pii's default (moderate) profile and message policy.
    pub fn new() -> Self {
        let detector = Detector::default();
        Self {
            redactor: Redactor::new(detector.clone()),
            detector,
            policy: MessagePolicy::default(),
        }
    }

    /// Step 7: the message normalised and checked.
    ///
    /// # Errors
    ///
    /// The rule the message breaks.
    pub fn check(&self, message: &str) -> Result<CheckedMessage, MessageError> {
        self.policy.check(message)
    }

    /// The kinds of personal data in `text`, for the audit log (names only).
    pub fn kinds(&self, text: &str) -> Vec<String> {
        let mut kinds: Vec<String> = self
            .detector
            .detect(text)
            .iter()
            .map(|d| d.kind.name().to_owned())
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    }

    /// A fresh set of pseudonyms for one request's texts.
    pub fn pseudonyms(&self) -> Pseudonyms {
        Pseudonyms {
            vault: Arc::new(Vault::default()),
        }
    }

    /// Step 8: `text` with its personal data replaced by placeholders.
    pub fn pseudonymise(&self, pseudonyms: &Pseudonyms, text: &str) -> String {
        pseudonyms.vault.pseudonymise(&self.detector, text)
    }

    /// Step 10: personal data in the backend's answer that is not one of this
    /// conversation's placeholders (someone else's, or a secret) is redacted; then the
    /// placeholders get the user's values back.
    pub fn scan(&self, pseudonyms: &Pseudonyms, answer: &str) -> Scanned {
        let redaction = self.redactor.redact_with_detections(answer);
        let mut leaked: Vec<String> = redaction
            .detections
            .iter()
            .map(|d| d.kind.name().to_owned())
            .collect();
        leaked.sort();
        leaked.dedup();
        Scanned {
            text: pseudonyms.vault.restore(&redaction.text),
            leaked,
        }
    }

    /// `text` with personal data and secrets replaced by labels: the audit log's
    /// scrubber.
    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }
}

impl Default for Pii {
    fn default() -> Self {
        Self::new()
    }
}
