//! Configuration: command-line flags, environment variables and a TOML file.
//!
//! Every setting has a documented default. A value is taken from, in order: the flag, its
//! environment variable (`PUBLIC_BEE_*`), the TOML file named by `--config`, the default.
//! [`Config::resolve`] merges the three and validates the result, naming the field that
//! is wrong.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Parser, ValueEnum};
use ipnet::IpNet;
use serde::Deserialize;

use crate::secret::Secret;

/// Default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8092";
/// Default data folder.
pub const DEFAULT_DATA_DIR: &str = "./public-bee-data";
/// Default request timeout, in seconds.
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 30;
/// Default time given to in-flight requests at shutdown, in seconds.
pub const DEFAULT_SHUTDOWN_GRACE_SECS: u64 = 20;
/// Default timeout of one call to an OpenAI-compatible backend, in seconds.
pub const DEFAULT_BACKEND_TIMEOUT_SECS: u64 = 20;
/// Default number of earlier turns of a conversation sent to the backend.
pub const DEFAULT_HISTORY_TURNS: usize = 10;
/// Default prefix of the Redis keys the server writes.
pub const DEFAULT_REDIS_PREFIX: &str = "public-bee";
/// Default prefix of the API keys the server issues.
pub const DEFAULT_KEY_PREFIX: &str = "pb";
/// Environment variable that holds the OpenAI-compatible backend's API key.
pub const OPENAI_API_KEY_ENV: &str = "PUBLIC_BEE_OPENAI_API_KEY";

/// The server's command line. Flags left out fall back to their environment variable,
/// then to the TOML file, then to the documented default.
#[derive(Debug, Default, Parser)]
#[command(name = "public-bee", version, about, long_about = None)]
pub struct Cli {
    /// TOML configuration file
    #[arg(long, env = "PUBLIC_BEE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:8092]
    #[arg(long, env = "PUBLIC_BEE_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Data folder: database, secret keys, audit logs [default: ./public-bee-data]
    #[arg(long, env = "PUBLIC_BEE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// PostgreSQL URL for the records; without it, SQLite in the data folder
    #[arg(
        long,
        env = "PUBLIC_BEE_DATABASE_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,

    /// Redis URL for state shared by a fleet; without it, state stays in memory
    #[arg(
        long,
        env = "PUBLIC_BEE_REDIS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key this server writes [default: public-bee]
    #[arg(long, env = "PUBLIC_BEE_REDIS_PREFIX", value_name = "PREFIX")]
    pub redis_prefix: Option<String>,

    /// Separate address serving only GET /metrics (no key needed there)
    #[arg(long, env = "PUBLIC_BEE_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,

    /// Chat backend [default: offline]
    #[arg(long, env = "PUBLIC_BEE_CHAT_BACKEND", value_enum)]
    pub chat_backend: Option<BackendKind>,

    /// Base URL of the OpenAI-compatible backend, such as `https://api.example.com/v1`
    #[arg(long, env = "PUBLIC_BEE_OPENAI_BASE_URL", value_name = "URL")]
    pub openai_base_url: Option<String>,

    /// Model name sent to the OpenAI-compatible backend
    #[arg(long, env = "PUBLIC_BEE_OPENAI_MODEL", value_name = "NAME")]
    pub openai_model: Option<String>,

    /// File holding the OpenAI-compatible backend's API key (or set PUBLIC_BEE_OPENAI_API_KEY)
    #[arg(long, env = "PUBLIC_BEE_OPENAI_API_KEY_FILE", value_name = "FILE")]
    pub openai_api_key_file: Option<PathBuf>,

    /// Request timeout in seconds [default: 30]
    #[arg(long, env = "PUBLIC_BEE_REQUEST_TIMEOUT_SECS", value_name = "SECS")]
    pub request_timeout_secs: Option<u64>,

    /// The public origin is served over TLS (by a reverse proxy): send HSTS [default: false]
    #[arg(long, env = "PUBLIC_BEE_HTTPS", value_name = "BOOL")]
    pub https: Option<bool>,

    /// Log format [default: text]
    #[arg(long, env = "PUBLIC_BEE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

/// Which chat backend answers messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The built-in offline responder: answers from the bot's knowledge entries.
    #[default]
    Offline,
    /// An OpenAI-compatible chat completions endpoint.
    Openai,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// The resolved, validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// The data folder.
    pub data_dir: PathBuf,
    /// PostgreSQL URL; `None` keeps records in SQLite inside the data folder.
    pub database_url: Option<Secret>,
    /// Redis URL; `None` keeps shared state in memory.
    pub redis_url: Option<Secret>,
    /// Prefix of every Redis key this server writes; the instances of one fleet share it.
    pub redis_prefix: String,
    /// Separate address for `GET /metrics`.
    pub metrics_listen: Option<SocketAddr>,
    /// HTTP settings.
    pub http: HttpConfig,
    /// Chat backend settings.
    pub chat: ChatConfig,
    /// API keys and access policies.
    pub auth: AuthConfig,
    /// Audit monitor rules and records of processing.
    pub audit: AuditConfig,
    /// Log format.
    pub log_format: LogFormat,
}

/// Files that replace the audit defaults (YAML, in the forms bee-audit documents).
#[derive(Debug, Clone, Default)]
pub struct AuditConfig {
    /// Monitor rules; without it, bee-audit's defaults (five failed authentications from
    /// one address in 300 s is brute force, and more).
    pub monitor_file: Option<PathBuf>,
    /// Records of processing; without it, the server's own two records.
    pub processing_records_file: Option<PathBuf>,
}

/// API keys and access policies. The files are YAML (`.yaml`, `.yml`) or TOML (`.toml`)
/// in the forms bee-auth documents.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The key policy file; without it, bee-auth's defaults with the prefix `pb`.
    pub key_policy_file: Option<PathBuf>,
    /// The roles file; without it, bee-auth's default roles.
    pub roles_file: Option<PathBuf>,
    /// The ABAC rules for keys bound to a tenant; without it, tenant isolation and
    /// "live bots only" for chat.
    pub abac_file: Option<PathBuf>,
}

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Time one request may take before it is answered with 503.
    pub request_timeout: Duration,
    /// Time in-flight requests get to finish at shutdown.
    pub shutdown_grace: Duration,
    /// Whether the public origin is HTTPS, so that HSTS is sent.
    pub https: bool,
    /// Reverse proxies whose `X-Forwarded-For` is believed. Empty: the peer address is
    /// the client address.
    pub trusted_proxies: Vec<IpNet>,
}

/// Chat backend settings.
#[derive(Debug, Clone)]
pub struct ChatConfig {
    /// Which backend answers.
    pub backend: BackendConfig,
    /// Number of earlier turns of the conversation sent along with a message.
    pub history_turns: usize,
}

/// The chosen chat backend and its settings.
#[derive(Debug, Clone)]
pub enum BackendConfig {
    /// The built-in offline responder.
    Offline,
    /// An OpenAI-compatible endpoint.
    OpenAi(OpenAiConfig),
}

/// Settings of an OpenAI-compatible chat completions backend.
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    /// Base URL; `/chat/completions` is appended.
    pub base_url: String,
    /// Model name.
    pub model: String,
    /// API key sent as a bearer token, if the endpoint needs one.
    pub api_key: Option<Secret>,
    /// Timeout of one call.
    pub timeout: Duration,
}

/// A configuration that cannot be used, naming the field at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The TOML file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TOML file is not valid.
    #[error("config file {path} is not valid")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<toml::de::Error>,
    },
    /// A field has a value that cannot be used.
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as written in the TOML file.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
}

impl Config {
    /// Merges the command line (with its environment variables), the TOML file it names
    /// and the defaults, then validates the result.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or parsed, or a value is out of range.
    pub fn resolve(cli: Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => FileConfig::load(path)?,
            None => FileConfig::default(),
        };
        Self::merge(cli, file, std::env::var(OPENAI_API_KEY_ENV).ok())
    }

    /// A configuration with every default, for the given data folder. Tests start from it.
    pub fn with_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            listen: default_listen(),
            data_dir: data_dir.into(),
            database_url: None,
            redis_url: None,
            redis_prefix: DEFAULT_REDIS_PREFIX.into(),
            metrics_listen: None,
            http: HttpConfig {
                request_timeout: Duration::from_secs(DEFAULT_REQUEST_TIMEOUT_SECS),
                shutdown_grace: Duration::from_secs(DEFAULT_SHUTDOWN_GRACE_SECS),
                https: false,
                trusted_proxies: Vec::new(),
            },
            chat: ChatConfig {
                backend: BackendConfig::Offline,
                history_turns: DEFAULT_HISTORY_TURNS,
            },
            auth: AuthConfig {
                key_policy_file: None,
                roles_file: None,
                abac_file: None,
            },
            audit: AuditConfig::default(),
            log_format: LogFormat::Text,
        }
    }

    fn merge(cli: Cli, file: FileConfig, key_env: Option<String>) -> Result<Self, ConfigError> {
        let http = file.http.unwrap_or_default();
        let chat = file.chat.unwrap_or_default();
        let openai = chat.openai.unwrap_or_default();
        let auth = file.auth.unwrap_or_default();
        let audit = file.audit.unwrap_or_default();

        let database_url = cli.database_url.or(file.database_url);
        let redis_url = cli.redis_url.or(file.redis_url);
        let config = Self {
            listen: cli.listen.or(file.listen).unwrap_or_else(default_listen),
            data_dir: cli
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            database_url: check_url("database_url", database_url, &["postgres", "postgresql"])?,
            redis_url: check_url("redis_url", redis_url, &["redis", "rediss"])?,
            redis_prefix: redis_prefix(cli.redis_prefix.or(file.redis_prefix))?,
            metrics_listen: cli.metrics_listen.or(file.metrics_listen),
            http: HttpConfig {
                request_timeout: seconds(
                    "http.request_timeout_secs",
                    cli.request_timeout_secs.or(http.request_timeout_secs),
                    DEFAULT_REQUEST_TIMEOUT_SECS,
                )?,
                shutdown_grace: seconds(
                    "http.shutdown_grace_secs",
                    http.shutdown_grace_secs,
                    DEFAULT_SHUTDOWN_GRACE_SECS,
                )?,
                https: cli.https.or(http.https).unwrap_or(false),
                trusted_proxies: http.trusted_proxies.unwrap_or_default(),
            },
            chat: ChatConfig {
                backend: backend(
                    cli.chat_backend.or(chat.backend).unwrap_or_default(),
                    OpenAiParts {
                        base_url: cli.openai_base_url.or(openai.base_url),
                        model: cli.openai_model.or(openai.model),
                        key_file: cli.openai_api_key_file.or(openai.api_key_file),
                        key_env,
                        timeout_secs: openai.timeout_secs,
                    },
                )?,
                history_turns: chat.history_turns.unwrap_or(DEFAULT_HISTORY_TURNS),
            },
            auth: AuthConfig {
                key_policy_file: auth.key_policy_file,
                roles_file: auth.roles_file,
                abac_file: auth.abac_file,
            },
            audit: AuditConfig {
                monitor_file: audit.monitor_file,
                processing_records_file: audit.processing_records_file,
            },
            log_format: cli.log_format.or(file.log_format).unwrap_or_default(),
        };
        Ok(config)
    }
}

/// The TOML file, every field optional. Unknown fields are rejected so that a typo does
/// not silently fall back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    redis_url: Option<String>,
    redis_prefix: Option<String>,
    metrics_listen: Option<SocketAddr>,
    log_format: Option<LogFormat>,
    http: Option<FileHttp>,
    chat: Option<FileChat>,
    auth: Option<FileAuth>,
    audit: Option<FileAudit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAudit {
    monitor_file: Option<PathBuf>,
    processing_records_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileAuth {
    key_policy_file: Option<PathBuf>,
    roles_file: Option<PathBuf>,
    abac_file: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHttp {
    request_timeout_secs: Option<u64>,
    shutdown_grace_secs: Option<u64>,
    https: Option<bool>,
    trusted_proxies: Option<Vec<IpNet>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileChat {
    backend: Option<BackendKind>,
    history_turns: Option<usize>,
    openai: Option<FileOpenAi>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileOpenAi {
    base_url: Option<String>,
    model: Option<String>,
    api_key_file: Option<PathBuf>,
    timeout_secs: Option<u64>,
}

impl FileConfig {
    fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })
    }

    fn parse(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }
}

struct OpenAiParts {
    base_url: Option<String>,
    model: Option<String>,
    key_file: Option<PathBuf>,
    key_env: Option<String>,
    timeout_secs: Option<u64>,
}

fn backend(kind: BackendKind, parts: OpenAiParts) -> Result<BackendConfig, ConfigError> {
    if kind == BackendKind::Offline {
        return Ok(BackendConfig::Offline);
    }
    let base_url = parts.base_url.ok_or(ConfigError::Invalid {
        field: "chat.openai.base_url",
        reason: "required when chat.backend is openai".into(),
    })?;
    let base_url = check_url("chat.openai.base_url", Some(base_url), &["http", "https"])?
        .map(|url| url.expose().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let model = parts
        .model
        .filter(|m| !m.trim().is_empty())
        .ok_or(ConfigError::Invalid {
            field: "chat.openai.model",
            reason: "required when chat.backend is openai".into(),
        })?;
    Ok(BackendConfig::OpenAi(OpenAiConfig {
        base_url,
        model,
        api_key: api_key(parts.key_file, parts.key_env)?,
        timeout: seconds(
            "chat.openai.timeout_secs",
            parts.timeout_secs,
            DEFAULT_BACKEND_TIMEOUT_SECS,
        )?,
    }))
}

/// The backend key, from its file when one is named, else from the environment.
fn api_key(file: Option<PathBuf>, env: Option<String>) -> Result<Option<Secret>, ConfigError> {
    let Some(path) = file else {
        return Ok(env.filter(|k| !k.is_empty()).map(Secret::new));
    };
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let key = Secret::new(text.trim().to_owned());
    if key.expose().is_empty() {
        return Err(ConfigError::Invalid {
            field: "chat.openai.api_key_file",
            reason: "the file is empty".into(),
        });
    }
    Ok(Some(key))
}

fn check_url(
    field: &'static str,
    url: Option<String>,
    schemes: &[&str],
) -> Result<Option<Secret>, ConfigError> {
    let Some(url) = url else { return Ok(None) };
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme {
        Some(s) if schemes.contains(&s.as_str()) => Ok(Some(Secret::new(url))),
        // The URL may hold a password: name only what was expected.
        _ => Err(ConfigError::Invalid {
            field,
            reason: format!("must start with {}://", schemes.join("://, ")),
        }),
    }
}

fn redis_prefix(prefix: Option<String>) -> Result<String, ConfigError> {
    let prefix = prefix.unwrap_or_else(|| DEFAULT_REDIS_PREFIX.into());
    let ok = (1..=64).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.'));
    if ok {
        Ok(prefix)
    } else {
        Err(ConfigError::Invalid {
            field: "redis_prefix",
            reason: "must be 1 to 64 characters of a-z, A-Z, 0-9, -, _, : and .".into(),
        })
    }
}

fn seconds(field: &'static str, value: Option<u64>, default: u64) -> Result<Duration, ConfigError> {
    match value.unwrap_or(default) {
        0 => Err(ConfigError::Invalid {
            field,
            reason: "must be at least 1 second".into(),
        }),
        secs => Ok(Duration::from_secs(secs)),
    }
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8092))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> FileConfig {
        FileConfig::parse(text).unwrap()
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let config = Config::merge(Cli::default(), FileConfig::default(), None).unwrap();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(config.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert!(config.database_url.is_none() && config.redis_url.is_none());
        assert!(matches!(config.chat.backend, BackendConfig::Offline));
        assert_eq!(config.http.request_timeout, Duration::from_secs(30));
        assert!(!config.http.https);
    }

    #[test]
    fn a_flag_wins_over_the_file_and_the_file_over_the_default() {
        let cli = Cli::parse_from(["public-bee", "--listen", "127.0.0.1:9000"]);
        let file = file("listen = \"127.0.0.1:9001\"\ndata_dir = \"/srv/bee\"\n");
        let config = Config::merge(cli, file, None).unwrap();
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.data_dir, PathBuf::from("/srv/bee"));
    }

    #[test]
    fn an_unknown_field_in_the_file_is_rejected() {
        assert!(FileConfig::parse("listne = \"127.0.0.1:1\"").is_err());
    }

    #[test]
    fn a_zero_timeout_is_rejected_naming_its_field() {
        let file = file("[http]\nrequest_timeout_secs = 0\n");
        let err = Config::merge(Cli::default(), file, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "http.request_timeout_secs: must be at least 1 second"
        );
    }

    #[test]
    fn a_database_url_of_another_kind_is_rejected_without_echoing_it() {
        let cli = Cli {
            database_url: Some("mysql://root:hunter2@db/x".into()),
            ..Cli::default()
        };
        let err = Config::merge(cli, FileConfig::default(), None).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("database_url: must start with postgres")
        );
        assert!(!err.to_string().contains("hunter2"));
    }

    #[test]
    fn the_openai_backend_needs_a_base_url_and_a_model() {
        let file = file("[chat]\nbackend = \"openai\"\n");
        let err = Config::merge(Cli::default(), file, None).unwrap_err();
        assert!(err.to_string().starts_with("chat.openai.base_url"));

        let text = "[chat]\nbackend = \"openai\"\n[chat.openai]\nbase_url = \"http://x/v1/\"\n";
        let err = Config::merge(Cli::default(), self::file(text), None).unwrap_err();
        assert!(err.to_string().starts_with("chat.openai.model"));
    }

    #[test]
    fn the_openai_key_comes_from_the_environment_when_no_file_is_named() {
        let text = "[chat]\nbackend = \"openai\"\n\
                    [chat.openai]\nbase_url = \"http://x/v1/\"\nmodel = \"m\"\n";
        let config = Config::merge(Cli::default(), file(text), Some("sk-1".into())).unwrap();
        let BackendConfig::OpenAi(openai) = config.chat.backend else {
            panic!("expected the openai backend")
        };
        assert_eq!(openai.base_url, "http://x/v1");
        assert_eq!(openai.api_key.unwrap().expose(), "sk-1");
    }
}
