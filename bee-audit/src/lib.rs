//! What happened, provably.
//!
//! `bee-audit` writes typed security events to a log that detects any later edit, watches
//! them for attacks and turns alerts into actions.
//!
//! # Threats and limits
//!
//! The crate is not built yet: it records nothing so far.
