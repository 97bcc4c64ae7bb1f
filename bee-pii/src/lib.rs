//! Finds personal data and secrets in text, and removes them.
//!
//! `bee-pii` is for services that pass untrusted chat text to a language model, a log or
//! a database: it finds card numbers, phone numbers, email addresses, national ids,
//! passwords and leaked API keys, and redacts or pseudonymises them before the text
//! goes on.
//!
//! # Threats and limits
//!
//! The crate is not built yet: it detects nothing so far.
