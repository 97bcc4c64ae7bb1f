//! The limiter: a store, and optionally adaptive scaling, behind one `check` call.

use std::sync::Arc;

use crate::adaptive::{Adaptive, Level};
use crate::decision::Decision;
use crate::policy::Policy;
use crate::store::{Store, StoreError};

/// Checks requests against policies in a store, scaling limits by the load level.
///
/// Cheap to clone; clones share the store and the load level.
#[derive(Debug, Clone)]
pub struct Limiter {
    store: Arc<dyn Store>,
    adaptive: Option<Arc<Adaptive>>,
}

impl Limiter {
    /// A limiter over `store`, limits as configured.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Limiter {
            store,
            adaptive: None,
        }
    }

    /// The same limiter with every limit multiplied by `adaptive`'s current multiplier.
    #[must_use]
    pub fn with_adaptive(mut self, adaptive: Arc<Adaptive>) -> Self {
        self.adaptive = Some(adaptive);
        self
    }

    /// Admits `cost` units for `key` if every tier of `policy` (scaled by the load level)
    /// admits them.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the key is too long, or the store cannot decide and its
    /// configured fallback is to report the error.
    pub async fn check(
        &self,
        key: &str,
        policy: &Policy,
        cost: u64,
    ) -> Result<Decision, StoreError> {
        match self
            .adaptive
            .as_deref()
            .filter(|a| a.level() != Level::Normal)
        {
            Some(adaptive) => {
                let scaled = policy.scaled(adaptive.multiplier());
                self.store.check(key, &scaled, cost).await
            }
            None => self.store.check(key, policy, cost).await,
        }
    }

    /// The store the limiter decides in.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}
