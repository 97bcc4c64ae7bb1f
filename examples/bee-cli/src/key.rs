//! `bee key`: make an API key and the record a server would store, or check a key
//! offline (format and checksum, no lookup).

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bee_auth::lifecycle::issue;
use bee_auth::{
    ApiKey, Clock, KeyPolicy, NewKey, Pepper, PepperId, Peppers, Roles, SystemClock, TenantId,
};
use zeroize::Zeroizing;

/// Work with API keys.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum KeyCommand {
    /// Make a new key: prints the key once, then the record to store (JSON, hash only).
    New(NewArgs),
    /// Check a key's format and checksum offline; exit 0 if valid, 1 if not.
    Check {
        /// The key, or `-` to read it from standard input (keeps it out of shell history).
        key: String,
    },
}

/// Options of `bee key new`.
#[derive(Debug, clap::Args)]
pub(crate) struct NewArgs {
    /// Prefix of the key, such as `pb` or `bee_live`.
    #[arg(long)]
    prefix: String,
    /// Tenant the key belongs to.
    #[arg(long, default_value = "default")]
    tenant: String,
    /// A scope the key may use; repeat for several.
    #[arg(long = "scope", default_value = "chat:send")]
    scopes: Vec<String>,
    /// A role of the key; repeat for several. Each must be a role of `--roles-file`
    /// (by default the roles the server ships with: bot_user, bot_admin, tenant_admin,
    /// super_admin).
    #[arg(long = "role")]
    roles: Vec<String>,
    /// The server's roles file (YAML, or TOML when it ends in `.toml`), to check `--role`
    /// against when the server defines roles of its own.
    #[arg(long)]
    roles_file: Option<PathBuf>,
    /// A human name for the key.
    #[arg(long, default_value = "issued by bee key new")]
    name: String,
    /// File holding the server's pepper (its raw bytes, at least 32). Without it the
    /// hash is made under a throwaway pepper and no server can verify the record.
    #[arg(long)]
    pepper_file: Option<PathBuf>,
    /// Id of the pepper, stored in the record.
    #[arg(long, default_value = "p1")]
    pepper_id: String,
}

/// Runs a `bee key` command.
pub(crate) fn run(command: KeyCommand) -> ExitCode {
    let outcome = match command {
        KeyCommand::New(args) => new(args),
        KeyCommand::Check { key } => check(&key),
    };
    match outcome {
        Ok(code) => code,
        Err(message) => {
            let _ = writeln!(io::stderr(), "bee key: {message}");
            ExitCode::from(2)
        }
    }
}

fn new(args: NewArgs) -> Result<ExitCode, String> {
    let policy = KeyPolicy {
        prefix: args.prefix.clone(),
        ..KeyPolicy::default()
    }
    .validated()
    .map_err(|e| e.to_string())?;
    check_roles(&args)?;
    let peppers = peppers(&args)?;
    let tenant = TenantId::new(&args.tenant).map_err(|e| format!("--tenant: {e}"))?;
    let mut request = NewKey::new(tenant, args.name);
    request.scopes = args.scopes;
    request.roles = args.roles;

    let issued = issue(
        &policy,
        &peppers,
        request,
        SystemClock.now(),
        &mut rand::rng(),
    )
    .map_err(|e| e.to_string())?;
    let record = serde_json::to_string_pretty(&issued.record).map_err(|e| e.to_string())?;

    let mut out = io::stdout().lock();
    writeln!(out, "{}", issued.key.expose()).map_err(|e| e.to_string())?;
    writeln!(out, "{record}").map_err(|e| e.to_string())?;
    let _ = writeln!(
        io::stderr(),
        "note: the key above is shown once; only its hash is in the record"
    );
    Ok(ExitCode::SUCCESS)
}

/// Refuses a role the server would not know: a key holding only unknown roles can do
/// nothing, which is better found now than at its first request.
fn check_roles(args: &NewArgs) -> Result<(), String> {
    let roles = match &args.roles_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("--roles-file {}: {e}", path.display()))?;
            let parsed = if path.extension().is_some_and(|e| e == "toml") {
                Roles::from_toml(&text)
            } else {
                Roles::from_yaml(&text)
            };
            parsed.map_err(|e| format!("--roles-file {}: {e}", path.display()))?
        }
        None => Roles::default(),
    };
    match args.roles.iter().find(|role| roles.grants(role).is_none()) {
        Some(unknown) => {
            let known: Vec<&str> = roles.names().collect();
            let source = match &args.roles_file {
                Some(path) => format!("in {}", path.display()),
                None => "among the default roles (see --roles-file)".to_owned(),
            };
            Err(format!(
                "--role {unknown:?}: no such role {source}; known: {}",
                known.join(", ")
            ))
        }
        None => Ok(()),
    }
}

fn peppers(args: &NewArgs) -> Result<Peppers, String> {
    let id = PepperId::new(&args.pepper_id).map_err(|e| format!("--pepper-id: {e}"))?;
    let pepper = match &args.pepper_file {
        Some(path) => {
            let bytes = Zeroizing::new(
                std::fs::read(path)
                    .map_err(|e| format!("--pepper-file {}: {e}", path.display()))?,
            );
            Pepper::from_bytes(&bytes).map_err(|e| format!("--pepper-file: {e}"))?
        }
        None => {
            let _ = writeln!(
                io::stderr(),
                "warning: no --pepper-file: the hash is made under a throwaway pepper and \
                 no server can verify this record"
            );
            Pepper::generate(&mut rand::rng())
        }
    };
    Ok(Peppers::new(id, pepper))
}

fn check(key: &str) -> Result<ExitCode, String> {
    let mut from_stdin = Zeroizing::new(String::new());
    let key = if key == "-" {
        io::stdin()
            .read_to_string(&mut from_stdin)
            .map_err(|e| format!("reading the key from standard input: {e}"))?;
        from_stdin.trim()
    } else {
        key.trim()
    };
    let mut out = io::stdout().lock();
    let written = match ApiKey::parse(key) {
        Ok(key) => writeln!(
            out,
            "valid: prefix {}, key id {} (format and checksum only; not looked up)",
            key.prefix(),
            key.key_id()
        )
        .map(|()| ExitCode::SUCCESS),
        Err(why) => writeln!(out, "invalid: {why}").map(|()| ExitCode::FAILURE),
    };
    written.map_err(|e| e.to_string())
}
