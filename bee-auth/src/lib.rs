//! Who is calling, and may they do this.
//!
//! `bee-auth` covers API keys and their lifecycle, signed requests with replay
//! protection, and role- and attribute-based access control for a public chat API.
//!
//! # Threats and limits
//!
//! The crate is not built yet: it authenticates nothing so far.
