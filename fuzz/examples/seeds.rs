//! Writes the seed corpus under `fuzz/seeds/<target>/` from real values: keys issued by
//! the fixture store, requests signed with the fixture secret, ciphertexts sealed by the
//! fixture keyring, the fixture audit chain, policy files from the crates' docs and PII
//! lines from bee-pii's test corpus.
//!
//! Run from `fuzz/`: `cargo +nightly run --example seeds`. The keyring fixture
//! (`fixtures/keyring.json`) is made once and kept, so that committed ciphertexts stay
//! openable.

use std::fs;
use std::path::{Path, PathBuf};

use bee_auth::{
    KeyPolicy, NewKey, Pepper, PepperId, Peppers, RequestParts, Signer, SigningSecret, TenantId,
    lifecycle,
};
use bee_crypto::{Context, Keyring, MasterKey, Protector, SecretKey};
use bee_fuzz::{audit, block_on};
use http::{HeaderMap, HeaderValue};
use jiff::Timestamp;
use rand::SeedableRng;
use rand::rngs::StdRng;

type Res<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn main() -> Res {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds = root.join("seeds");
    pii(
        &seeds.join("pii"),
        &root.join("../bee-pii/tests/data/cases.jsonl"),
    )?;
    message(&seeds.join("message"))?;
    api_key(&seeds.join("api_key"))?;
    signature(&seeds.join("signature"))?;
    open(&seeds.join("open"), &root.join("fixtures/keyring.json"))?;
    audit_verify(&seeds.join("audit_verify"))?;
    ratelimit_policy(&seeds.join("ratelimit_policy"))?;
    policy_files(
        &seeds.join("policy_files"),
        &root.join("../bee-auth/src/roles.yaml"),
    )?;
    permission(&seeds.join("permission"))?;
    Ok(())
}

fn write(dir: &Path, name: &str, control: &[u8], body: impl AsRef<[u8]>) -> Res {
    fs::create_dir_all(dir)?;
    let mut bytes = control.to_vec();
    bytes.extend_from_slice(body.as_ref());
    fs::write(dir.join(name), bytes)?;
    Ok(())
}

/// Lines of bee-pii's corpus: the text of every tenth case, under two profiles.
fn pii(dir: &Path, corpus: &Path) -> Res {
    let corpus = fs::read_to_string(corpus)?;
    for (n, line) in corpus.lines().step_by(10).take(40).enumerate() {
        let Some(text) = json_text(line) else {
            continue;
        };
        let profile = u8::try_from(n % 6)?;
        write(dir, &format!("case-{n:02}"), &[profile, 7], text)?;
    }
    write(
        dir,
        "evasion",
        &[2, 3],
        "card ４１１１\u{200b}1111 1111 1111, mail ana@exa\u{ad}mple.org",
    )?;
    Ok(())
}

/// The `text` field of a corpus line (the corpus is JSON Lines with plain strings).
fn json_text(line: &str) -> Option<String> {
    let start = line.find("\"text\": \"")? + 9;
    let end = start + line[start..].find("\", \"")?;
    Some(line[start..end].replace("\\\"", "\"").replace("\\\\", "\\"))
}

fn message(dir: &Path) -> Res {
    let cases: [(&str, u8, &str); 6] = [
        ("plain", 0, "Hello, what are your opening hours?"),
        ("script", 4, "hi <script>alert(1)</script>"),
        ("handler", 0, "<img src=x onerror=alert(1)>"),
        ("javascript-url", 4, "[click](javascript:alert(1))"),
        ("invisible", 8, "pass\u{200b}word re\u{202e}set"),
        ("fullwidth", 3, "ＡＢＣ１２３ \u{0007}bell"),
    ];
    for (name, policy, text) in cases {
        write(dir, name, &[policy], text)?;
    }
    Ok(())
}

/// The keys the `api_key` target's store holds: the same seed gives the same keys.
fn api_key(dir: &Path) -> Res {
    let now = Timestamp::from_second(1_780_000_000)?;
    let peppers = Peppers::new(PepperId::new("p1")?, Pepper::from_bytes(&[7; 32])?);
    let policy = KeyPolicy {
        prefix: "bee_test".into(),
        ..KeyPolicy::default()
    };
    let mut rng = StdRng::seed_from_u64(9);
    for name in ["live", "revoked"] {
        let new = NewKey::new(TenantId::new("acme")?, name).scope("chat:send");
        let issued = lifecycle::issue(&policy, &peppers, new, now, &mut rng)?;
        write(dir, name, &[0], issued.key.expose())?;
    }
    write(dir, "malformed", &[0], "bee_test_0123456789ab_short")?;
    write(dir, "edits", &[1, 2, 0, 20, 0, 1, 1, 40, 0, 0], "")?;
    let origins = [
        (
            "origin-exact",
            "https://App.Example.com\nhttps://app.example.com:443",
        ),
        (
            "origin-wildcard",
            "https://*.example.com\nhttps://a.b.example.com/",
        ),
        (
            "origin-port",
            "http://localhost:3000\nhttp://localhost:3000",
        ),
        ("origin-ipv6", "http://[::1]:8080\nhttp://[::1]:8080"),
    ];
    for (name, text) in origins {
        write(dir, name, &[2], text)?;
    }
    Ok(())
}

/// Requests signed with the `signature` target's secret at its time.
fn signature(dir: &Path) -> Res {
    let requests = [
        (
            "post",
            "POST",
            "/v1/bots/b1/chat",
            None,
            "{\"message\":\"hello\"}",
        ),
        (
            "query",
            "GET",
            "/v1/conversations",
            Some("limit=10&after=c%2042&b=1"),
            "",
        ),
    ];
    let signer = Signer::new(SigningSecret::from_bytes(&[9; 32])?);
    for (name, method, path, query, body) in requests {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        let parts = RequestParts {
            method,
            path,
            query,
            headers: &headers,
            body: body.as_bytes(),
        };
        let signed = signer.sign_with(
            &parts,
            &["content-type"],
            "1780000000",
            "n0nce-0f-the-fuzz3r",
        )?;
        signed.apply(&mut headers);
        let mut text = format!("{method} {path}");
        if let Some(q) = query {
            text.push('?');
            text.push_str(q);
        }
        text.push('\n');
        for (n, v) in &headers {
            text.push_str(&format!("{}: {}\n", n, v.to_str()?));
        }
        text.push('\n');
        text.push_str(body);
        write(dir, name, &[0], &text)?;
        write(dir, &format!("{name}-edited"), &[1, 1, 0, 7, 0, 1], &text)?;
    }
    Ok(())
}

/// Ciphertexts sealed by the fixture keyring under the target's context.
fn open(dir: &Path, keyring_file: &Path) -> Res {
    let protector = Protector::Key(MasterKey::from_key(SecretKey::from_bytes([0x42; 32])));
    if !keyring_file.exists() {
        let keyring = Keyring::generate()?;
        keyring.rotate()?;
        fs::create_dir_all(keyring_file.parent().ok_or("no parent")?)?;
        fs::write(keyring_file, block_on(protector.seal_keyring(&keyring))?)?;
    }
    let keyring = block_on(protector.open_keyring(&fs::read(keyring_file)?))?;
    let context = Context::record("tenant-7", "support-bot", "conv-42", "message")?;
    for (name, plaintext) in [
        ("short", &b"hello"[..]),
        ("empty", b""),
        (
            "message",
            b"{\"role\":\"user\",\"text\":\"my card is 4111 1111 1111 1111\"}",
        ),
    ] {
        write(
            dir,
            &format!("sealed-{name}"),
            &[0],
            keyring.seal(&context, plaintext)?,
        )?;
    }
    write(dir, "reseal-flip", &[1, 1, 0, 9, 0, 1, 0], "plaintext")?;
    write(dir, "keyring-file", &[2], fs::read(keyring_file)?)?;
    write(dir, "reseal-context", &[1, 0, 3], "plaintext")?;
    Ok(())
}

/// The fixture chain, whole and with a record missing, as one input.
fn audit_verify(dir: &Path) -> Res {
    let tmp = std::env::temp_dir().join(format!("bee-fuzz-seeds-{}", std::process::id()));
    fs::create_dir_all(&tmp)?;
    let (files, _) = audit::write_chain(&tmp);
    let texts: Vec<Vec<u8>> = files.iter().map(fs::read).collect::<Result<_, _>>()?;
    let joined = texts.join(&b'\x0c');
    write(dir, "chain-with-head", &[1], &joined)?;
    write(dir, "chain-alone", &[0], &joined)?;
    let first = texts.first().ok_or("no file")?;
    let lines: Vec<&[u8]> = first.split(|&b| b == b'\n').collect();
    if lines.len() > 2 {
        let mut cut = lines.clone();
        cut.remove(1);
        write(dir, "record-deleted", &[1], cut.join(&b'\n'))?;
    }
    fs::remove_dir_all(&tmp)?;
    let _ = PathBuf::new();
    Ok(())
}

fn ratelimit_policy(dir: &Path) -> Res {
    let yaml = "algorithm: sliding_window\nbuckets: 10\ntiers:\n  1m: 60\n  1h: { limit: 1000 }\n  burst-minute: { window: 1m, limit: 60, burst: 10 }\n";
    write(dir, "docs.yaml", &[0, 64], yaml)?;
    write(
        dir,
        "gcra.yaml",
        &[0, 200],
        "algorithm: gcra\ntiers:\n  1s: 5\n  1d: { limit: 10000, burst: 100 }\n",
    )?;
    let toml = "algorithm = \"sliding_window\"\nbuckets = 12\n\n[tiers]\n\"1m\" = 60\n\"1h\" = { limit = 1000 }\n\"burst\" = { window = \"90s\", limit = 30, burst = 5 }\n";
    write(dir, "docs.toml", &[1, 128], toml)?;
    Ok(())
}

fn policy_files(dir: &Path, roles: &Path) -> Res {
    let files: [(&str, u8, String); 13] = [
        ("key_policy.yaml", 0, "prefix: pb\nrotate_after_days: 90\ngrace_days: 7\nnotice_days: 14\nmax_age_days: 365\nmin_entropy_bits: 256\nrequire_scope: true\nallowed_domains: [example.org]\n".into()),
        ("key_policy.toml", 1, "prefix = \"pb\"\ngrace_days = 3\nallowed_domains = []\n".into()),
        ("signature_policy.yaml", 2, "max_skew_seconds: 300\nrequired_headers: [content-type]\nmax_signatures: 4\n".into()),
        ("signature_policy.toml", 3, "max_skew_seconds = 60\nrequired_headers = []\n".into()),
        ("roles.yaml", 4, fs::read_to_string(roles)?),
        ("roles.toml", 5, "[roles]\nreader = [\"docs:read\"]\nwriter = [\"docs:*\", \"bot:update:own\"]\n".into()),
        ("abac.yaml", 6, "default: deny\nrules:\n  - name: tenant isolation\n    kind: same_tenant\n  - name: office hours\n    kind: allowed_hours\n    time_zone: Europe/Paris\n    start: \"08:00\"\n    end: \"18:00\"\n    days: [mon, tue, wed, thu, fri]\n    actions: [\"billing:*\"]\n  - name: office network\n    kind: ip_ranges\n    allow: [\"10.0.0.0/8\", \"2001:db8::/32\"]\n  - name: served countries\n    kind: countries\n    allow: [FR, BE]\n  - name: live bots only\n    kind: resource_active\n".into()),
        ("abac.toml", 7, "default = \"deny\"\n\n[[rules]]\nname = \"tenant isolation\"\nkind = \"same_tenant\"\n\n[[rules]]\nname = \"net\"\nkind = \"ip_ranges\"\nallow = [\"192.0.2.0/24\"]\n".into()),
        ("pii_profile.yaml", 8, "base: moderate\nthreshold: 0.6\nallow: [\"support@example.com\"]\ndeny:\n  - { value: \"Project Bluebird\", kind: codename }\nrecognizers:\n  - { kind: employee_id, pattern: \"EMP-[0-9]{6}\", score: 0.9 }\n".into()),
        ("pii_profile.toml", 9, "base = \"strict\"\nthreshold = 0.4\n\n[[recognizers]]\nkind = \"ticket\"\npattern = \"TCK-[A-Z]{3}[0-9]{4}\"\nscore = 0.8\n".into()),
        ("message_policy.yaml", 10, "max_chars: 4000\nmax_tokens: 1000\nmarkup: reject\nreject_invisible: true\n".into()),
        ("processing.yaml", 11, "records:\n  - name: security_audit_log\n    purpose: detect and investigate attacks on the chat service\n    legal_basis: legitimate_interests\n    data_categories: [ip_address, user_agent, pseudonymous_user_id]\n    data_subjects: [end_users, api_clients]\n    recipients: [security_team]\n    retention_days: 365\n  - name: conversations\n    purpose: answer questions and keep the history the user asked for\n    legal_basis: contract\n    data_categories: [message_content]\n    retention_days: 30\n".into()),
        ("monitor.yaml", 12, "max_groups: 500\nrules:\n  - name: admin_denials\n    alert: other\n    kind: authorization\n    outcome: failure\n    group_by: tenant\n    threshold: 3\n    window_secs: 60\n    cooldown_secs: 600\n    severity: critical\n".into()),
    ];
    for (name, kind, text) in files {
        write(dir, name, &[kind], text)?;
    }
    Ok(())
}

fn permission(dir: &Path) -> Res {
    let cases = [
        ("prefix-wildcard", "bot:* chat:send\nbot_admin:read\nk1\n\n"),
        ("own", "chat:history:own\nchat:history\nk1\nk1\n"),
        (
            "label",
            "bot:info:public bot:create\nbot:info\nk1\nk2\npublic internal",
        ),
        ("everything", "*\nbilling:view\n\n\n"),
        (
            "malformed",
            "bot* :send bot::read BOT:read\nbot:read\nk1\n\n",
        ),
    ];
    for (name, text) in cases {
        write(dir, name, &[], text)?;
    }
    Ok(())
}
