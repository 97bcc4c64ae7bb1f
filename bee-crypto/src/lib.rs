//! Data at rest stays unreadable without the keys.
//!
//! `bee-crypto` seals stored records with a keyring of versioned keys, binds every
//! ciphertext to where it belongs, and erases one person's data by destroying one key.
//!
//! # Threats and limits
//!
//! The crate is not built yet: it encrypts nothing so far.
