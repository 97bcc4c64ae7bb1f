//! Password hashing for administrator accounts: Argon2id in PHC strings.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, PasswordHasher as _, PasswordVerifier as _, Version};

use crate::error::RandomError;
use crate::params::{Argon2Params, ParamsError};
use crate::secret::{Password, fill_random};

/// Hashes and verifies passwords with Argon2id, in PHC strings such as
/// `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`.
///
/// ```
/// use bee_crypto::{Argon2Params, Password, PasswordHasher};
///
/// # let params = Argon2Params { memory_kib: 64, iterations: 1, parallelism: 1 };
/// # let hasher = PasswordHasher::new(params)?;
/// // In production: let hasher = PasswordHasher::default(); (OWASP parameters)
/// let stored = hasher.hash(&Password::from("correct horse battery staple"))?;
/// assert!(stored.starts_with("$argon2id$v=19$"));
/// hasher.verify(&Password::from("correct horse battery staple"), &stored)?;
/// assert!(hasher.verify(&Password::from("wrong"), &stored).is_err());
/// assert!(!hasher.needs_rehash(&stored));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PasswordHasher {
    params: Argon2Params,
}

impl PasswordHasher {
    /// A hasher that hashes with `params`.
    ///
    /// # Errors
    ///
    /// [`ParamsError`] naming the field out of range.
    pub fn new(params: Argon2Params) -> Result<Self, ParamsError> {
        params.validate()?;
        Ok(Self { params })
    }

    /// The parameters new hashes use.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    /// Hashes `password` with a fresh 16-byte random salt into a PHC string.
    ///
    /// # Errors
    ///
    /// [`PasswordError::Random`] when no salt could be drawn; [`PasswordError::Hashing`]
    /// when the hasher fails (out of memory).
    pub fn hash(&self, password: &Password) -> Result<String, PasswordError> {
        let mut salt = [0u8; SALT_LEN];
        fill_random(&mut salt)?;
        let hash = self
            .argon2()?
            .hash_password_with_salt(password.expose_secret().as_bytes(), &salt)
            .map_err(|_| PasswordError::Hashing)?;
        Ok(hash.to_string())
    }

    /// Checks `password` against a stored PHC string, with the parameters stored in it.
    /// The hashes are compared in constant time (the argon2 crate compares its outputs
    /// with `subtle`), so timing does not reveal how much of a guess was right.
    ///
    /// # Errors
    ///
    /// [`PasswordError::Mismatch`] for a wrong password; [`PasswordError::Malformed`] for
    /// a string that is not an Argon2id PHC hash; [`PasswordError::TooCostly`] when its
    /// parameters exceed the limits of [`Argon2Params`] (a planted hash must not exhaust
    /// the server).
    pub fn verify(&self, password: &Password, phc: &str) -> Result<(), PasswordError> {
        let hash = PasswordHash::new(phc).map_err(|_| PasswordError::Malformed)?;
        let stored = stored_params(&hash)?;
        let too_costly = stored.memory_kib > Argon2Params::MAX_MEMORY_KIB
            || stored.iterations > Argon2Params::MAX_ITERATIONS
            || stored.parallelism > Argon2Params::MAX_PARALLELISM;
        if too_costly {
            return Err(PasswordError::TooCostly);
        }
        stored.validate().map_err(|_| PasswordError::Malformed)?;
        Argon2::default()
            .verify_password(password.expose_secret().as_bytes(), &hash)
            .map_err(|error| match error {
                argon2::password_hash::Error::PasswordInvalid => PasswordError::Mismatch,
                _ => PasswordError::Malformed,
            })
    }

    /// True when a stored hash should be replaced after the next successful login: it is
    /// not Argon2id version 19, its parameters differ from this hasher's, its salt is
    /// shorter than 16 bytes or its output is not 32 bytes, or it does not parse.
    pub fn needs_rehash(&self, phc: &str) -> bool {
        let Ok(hash) = PasswordHash::new(phc) else {
            return true;
        };
        let Ok(stored) = stored_params(&hash) else {
            return true;
        };
        let salt_ok = hash
            .salt
            .as_ref()
            .is_some_and(|salt| salt.len() >= SALT_LEN);
        let output_ok = hash
            .hash
            .as_ref()
            .is_some_and(|out| out.len() == OUTPUT_LEN);
        stored != self.params || !salt_ok || !output_ok
    }

    /// Spends the time of one verification and fails, for a login with an unknown user
    /// name, so that response time does not tell which names exist.
    ///
    /// # Errors
    ///
    /// Always [`PasswordError::Mismatch`].
    pub fn verify_unknown_user(&self, password: &Password) -> Result<(), PasswordError> {
        if let Ok(argon) = self.argon2() {
            let _ = argon.hash_password_with_salt(password.expose_secret().as_bytes(), &[0; 16]);
        }
        Err(PasswordError::Mismatch)
    }

    fn argon2(&self) -> Result<Argon2<'static>, PasswordError> {
        let params = self
            .params
            .to_argon2(OUTPUT_LEN)
            .map_err(|_| PasswordError::Hashing)?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for PasswordHasher {
    /// OWASP parameters: [`Argon2Params::OWASP`].
    fn default() -> Self {
        Self {
            params: Argon2Params::OWASP,
        }
    }
}

/// A password could not be hashed or verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The password does not match the stored hash.
    #[error("password does not match")]
    Mismatch,
    /// The stored string is not an Argon2id version 19 PHC hash.
    #[error("stored password hash is not an argon2id PHC string")]
    Malformed,
    /// The stored hash asks for more memory, passes or lanes than allowed.
    #[error("stored password hash parameters exceed the allowed limits")]
    TooCostly,
    /// Hashing failed (out of memory).
    #[error("password hashing failed")]
    Hashing,
    /// No random salt could be drawn.
    #[error(transparent)]
    Random(#[from] RandomError),
}

const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

/// The m, t, p of an Argon2id v19 PHC hash; anything else is malformed.
fn stored_params(hash: &PasswordHash) -> Result<Argon2Params, PasswordError> {
    let is_argon2id = hash.algorithm.as_str() == "argon2id";
    let is_v19 = hash.version == Some(0x13);
    if !is_argon2id || !is_v19 || hash.salt.is_none() || hash.hash.is_none() {
        return Err(PasswordError::Malformed);
    }
    let param = |name: &str| {
        hash.params
            .get_decimal(name)
            .ok_or(PasswordError::Malformed)
    };
    Ok(Argon2Params {
        memory_kib: param("m")?,
        iterations: param("t")?,
        parallelism: param("p")?,
    })
}
