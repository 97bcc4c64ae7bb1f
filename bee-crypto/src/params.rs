//! Argon2id cost parameters, shared by password hashing and passphrase-derived master keys.

use serde::{Deserialize, Serialize};

/// Argon2id costs: memory in KiB, passes over memory, and lanes.
///
/// Loads from configuration (YAML, TOML, JSON) with every field optional; a missing field
/// takes its value from [`Argon2Params::OWASP`], and the result is validated, so zero or
/// nonsensical costs never reach the hasher.
///
/// ```
/// use bee_crypto::Argon2Params;
///
/// let params: Argon2Params = serde_json::from_str(r#"{ "memory_kib": 47104, "iterations": 1 }"#)?;
/// assert_eq!(params.parallelism, 1);
/// assert!(serde_json::from_str::<Argon2Params>(r#"{ "iterations": 0 }"#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawParams")]
pub struct Argon2Params {
    /// Memory in KiB (the `m` of a PHC string). At least 8 × `parallelism`.
    pub memory_kib: u32,
    /// Passes over the memory (`t`). At least 1.
    pub iterations: u32,
    /// Lanes (`p`). 1 to 64.
    pub parallelism: u32,
}

impl Argon2Params {
    /// OWASP Password Storage Cheat Sheet: Argon2id with 19 MiB, 2 passes, 1 lane. The
    /// default for password hashing.
    pub const OWASP: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };

    /// RFC 9106 section 4, second recommended option: 64 MiB, 3 passes, 4 lanes. The
    /// default for deriving a master key from a passphrase, which happens once per start.
    pub const MASTER_KEY: Self = Self {
        memory_kib: 64 * 1024,
        iterations: 3,
        parallelism: 4,
    };

    /// Largest memory cost accepted, 4 GiB: a larger one is a typo or an attack.
    pub const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
    /// Most passes accepted.
    pub const MAX_ITERATIONS: u32 = 64;
    /// Most lanes accepted.
    pub const MAX_PARALLELISM: u32 = 64;

    /// Checks every field.
    ///
    /// # Errors
    ///
    /// [`ParamsError`] naming the first field out of range.
    pub fn validate(&self) -> Result<(), ParamsError> {
        if self.parallelism == 0 || self.parallelism > Self::MAX_PARALLELISM {
            return Err(ParamsError::field("parallelism", "must be 1 to 64"));
        }
        if self.iterations == 0 || self.iterations > Self::MAX_ITERATIONS {
            return Err(ParamsError::field("iterations", "must be 1 to 64"));
        }
        if self.memory_kib < 8 * self.parallelism || self.memory_kib > Self::MAX_MEMORY_KIB {
            return Err(ParamsError::field(
                "memory_kib",
                "must be at least 8 x parallelism and at most 4194304 (4 GiB)",
            ));
        }
        Ok(())
    }

    /// The argon2 crate's parameters, with an output of `output_len` bytes.
    pub(crate) fn to_argon2(self, output_len: usize) -> Result<argon2::Params, ParamsError> {
        self.validate()?;
        argon2::Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(output_len),
        )
        .map_err(|_| ParamsError::field("memory_kib", "rejected by argon2"))
    }
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Argon2 parameters out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("argon2 parameter {field} {reason}")]
pub struct ParamsError {
    field: &'static str,
    reason: &'static str,
}

impl ParamsError {
    fn field(field: &'static str, reason: &'static str) -> Self {
        Self { field, reason }
    }

    /// The name of the field out of range.
    pub fn field_name(&self) -> &'static str {
        self.field
    }
}

/// The shape configuration is read in, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawParams {
    #[serde(default = "default_memory")]
    memory_kib: u32,
    #[serde(default = "default_iterations")]
    iterations: u32,
    #[serde(default = "default_parallelism")]
    parallelism: u32,
}

fn default_memory() -> u32 {
    Argon2Params::OWASP.memory_kib
}

fn default_iterations() -> u32 {
    Argon2Params::OWASP.iterations
}

fn default_parallelism() -> u32 {
    Argon2Params::OWASP.parallelism
}

impl TryFrom<RawParams> for Argon2Params {
    type Error = ParamsError;

    fn try_from(raw: RawParams) -> Result<Self, ParamsError> {
        let params = Self {
            memory_kib: raw.memory_kib,
            iterations: raw.iterations,
            parallelism: raw.parallelism,
        };
        params.validate()?;
        Ok(params)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_are_valid() {
        Argon2Params::OWASP.validate().unwrap();
        Argon2Params::MASTER_KEY.validate().unwrap();
    }

    #[test]
    fn rejects_zero_and_oversized_costs_naming_the_field() {
        let cases = [
            (0, 2, 1, "memory_kib"),
            (7, 2, 1, "memory_kib"),
            (Argon2Params::MAX_MEMORY_KIB + 1, 2, 1, "memory_kib"),
            (19456, 0, 1, "iterations"),
            (19456, 65, 1, "iterations"),
            (19456, 2, 0, "parallelism"),
            (19456, 2, 65, "parallelism"),
        ];
        for (memory_kib, iterations, parallelism, field) in cases {
            let params = Argon2Params {
                memory_kib,
                iterations,
                parallelism,
            };
            assert_eq!(params.validate().unwrap_err().field_name(), field);
        }
    }

    #[test]
    fn missing_fields_take_owasp_defaults_and_unknown_fields_are_rejected() {
        let params: Argon2Params = serde_json::from_str("{}").unwrap();
        assert_eq!(params, Argon2Params::OWASP);
        assert!(serde_json::from_str::<Argon2Params>(r#"{"memory": 1}"#).is_err());
        let error = serde_json::from_str::<Argon2Params>(r#"{"parallelism": 0}"#)
            .unwrap_err()
            .to_string();
        assert!(error.contains("parallelism"), "{error}");
    }
}
