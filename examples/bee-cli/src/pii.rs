//! `bee pii scan` and `bee pii redact`: find or remove personal data in JSON Lines or
//! plain text read from standard input.

use std::io::{self, BufRead, Write};
use std::path::Path;
use std::process::ExitCode;

use bee_pii::{Detector, HashKey, Operator, Profile, RedactionPolicy, Redactor};
use clap::{Args, Subcommand, ValueEnum};
use serde::Deserialize;
use serde_json::{Value, json};

/// Environment variable that holds the key of the `hash` operator (at least 16 bytes).
const HASH_KEY_ENV: &str = "BEE_PII_HASH_KEY";

/// Find or remove personal data and secrets.
#[derive(Debug, Subcommand)]
pub(crate) enum PiiCommand {
    /// Report detections: one JSON line per input line.
    Scan(Common),
    /// Write the redacted text: one JSON line per input line (plain lines with --plain).
    Redact {
        #[command(flatten)]
        common: Common,
        /// What replaces a detection. `hash` reads its key from BEE_PII_HASH_KEY.
        #[arg(long, value_enum, default_value_t = OperatorArg::Label)]
        operator: OperatorArg,
    },
}

/// Options shared by both subcommands.
#[derive(Debug, Args)]
pub(crate) struct Common {
    /// A preset (minimal, moderate, strict, pci, hipaa, gdpr) or a YAML/TOML profile file.
    #[arg(long, default_value = "moderate")]
    profile: String,
    /// Read plain text lines instead of JSON Lines `{"id": ..., "text": ...}`.
    #[arg(long)]
    plain: bool,
}

/// The operators the command line offers.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum OperatorArg {
    /// `[EMAIL]`
    Label,
    /// `**** **** **** 4242`
    Mask,
    /// `[EMAIL:5f0c6a1b2d3e4f50]`, keyed by BEE_PII_HASH_KEY
    Hash,
}

#[derive(Deserialize)]
struct Line {
    #[serde(default)]
    id: Value,
    text: String,
}

/// Runs a `bee pii` subcommand. Lines that cannot be read get an error line and the
/// rest go on; the exit code is 1 if any line failed, 2 if nothing could start.
pub(crate) fn run(command: PiiCommand) -> ExitCode {
    let (common, operator) = match command {
        PiiCommand::Scan(common) => (common, None),
        PiiCommand::Redact { common, operator } => (common, Some(operator)),
    };
    let redactor = match build(&common.profile, operator) {
        Ok(r) => r,
        Err(message) => {
            let _ = writeln!(io::stderr(), "bee pii: {message}");
            return ExitCode::from(2);
        }
    };
    let stdin = io::stdin().lock();
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    let mut failed = false;
    for (n, line) in stdin.lines().enumerate() {
        let reply = match line {
            Ok(line) => handle(&redactor, operator.is_some(), common.plain, n + 1, &line),
            // A line that is not UTF-8 was read past: report it and go on.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                Err((Value::from(n + 1), format!("cannot read line: {e}")))
            }
            // Anything else (stdin is a directory, a device error) would fail again on
            // every following read: stop.
            Err(e) => {
                let _ = stdout.flush();
                let _ = writeln!(io::stderr(), "bee pii: cannot read standard input: {e}");
                return ExitCode::from(2);
            }
        };
        let written = match reply {
            Ok(text) => writeln!(stdout, "{text}"),
            Err((id, error)) => {
                failed = true;
                writeln!(stdout, "{}", json!({ "id": id, "error": error }))
            }
        };
        if written.is_err() {
            return ExitCode::from(2);
        }
    }
    if stdout.flush().is_err() {
        return ExitCode::from(2);
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

fn build(profile: &str, operator: Option<OperatorArg>) -> Result<Redactor, String> {
    let profile = load_profile(profile)?;
    let detector = Detector::new(&profile).map_err(|e| format!("profile: {e}"))?;
    let (op, key) = match operator {
        None | Some(OperatorArg::Label) => (Operator::Label, None),
        Some(OperatorArg::Mask) => (Operator::Mask, None),
        Some(OperatorArg::Hash) => {
            let raw = std::env::var(HASH_KEY_ENV)
                .map_err(|_| format!("--operator hash needs {HASH_KEY_ENV}"))?;
            let key = HashKey::new(raw.into_bytes()).map_err(|e| format!("{HASH_KEY_ENV}: {e}"))?;
            (Operator::Hash, Some(key))
        }
    };
    Redactor::with_policy(detector, RedactionPolicy::all(op), key).map_err(|e| e.to_string())
}

fn load_profile(name: &str) -> Result<Profile, String> {
    let path = Path::new(name);
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    if !matches!(ext, "yaml" | "yml" | "toml") {
        return Profile::preset(name).map_err(|e| e.to_string());
    }
    let doc = std::fs::read_to_string(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let loaded = if ext == "toml" {
        Profile::from_toml(&doc)
    } else {
        Profile::from_yaml(&doc)
    };
    loaded.map_err(|e| format!("{name}: {e}"))
}

fn handle(
    redactor: &Redactor,
    redact: bool,
    plain: bool,
    n: usize,
    line: &str,
) -> Result<String, (Value, String)> {
    let (id, text) = if plain {
        (Value::from(n), line.to_owned())
    } else {
        let parsed: Line =
            serde_json::from_str(line).map_err(|e| (id_of(line), describe(n, &e)))?;
        (parsed.id, parsed.text)
    };
    if redact {
        let out = redactor.redact(&text);
        return Ok(if plain {
            out
        } else {
            json!({ "id": id, "text": out }).to_string()
        });
    }
    let detections: Vec<Value> = redactor
        .detector()
        .detect(&text)
        .iter()
        .map(|d| {
            json!({
                "kind": d.kind.name(),
                "start": d.start,
                "end": d.end,
                "text": d.text(&text),
                "confidence": (f64::from(d.confidence) * 100.0).round() / 100.0,
            })
        })
        .collect();
    Ok(json!({ "id": id, "detections": detections }).to_string())
}

/// Says what is wrong with a line without quoting it: serde's messages can repeat the
/// offending value, which may be the very data this command is meant to hide.
fn describe(n: usize, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let what = match e.classify() {
        // serde_json's syntax errors include a lone surrogate escape (`\ud800`), which
        // no UTF-8 text can hold.
        Category::Syntax | Category::Eof => {
            "not valid JSON (or a string escape that is not a Unicode character)"
        }
        Category::Data => "expected {\"id\": ..., \"text\": \"...\"}",
        Category::Io => "cannot be read",
    };
    format!("line {n}: {what} (column {})", e.column())
}

/// The id of a line that is JSON but not a valid input, or null.
fn id_of(line: &str) -> Value {
    serde_json::from_str::<Value>(line)
        .ok()
        .and_then(|v| v.get("id").cloned())
        .unwrap_or(Value::Null)
}
