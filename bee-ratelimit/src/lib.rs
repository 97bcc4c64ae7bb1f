//! How much may a caller do.
//!
//! `bee-ratelimit` decides whether a request may go on under several limits at once, in
//! one process or across a fleet sharing Redis, and escalates against abusive patterns.
//!
//! # Threats and limits
//!
//! The crate is not built yet: it limits nothing so far.
