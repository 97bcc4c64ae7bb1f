//! Ciphertext opening with a keyring, and keyring files.
//!
//! Input: byte 0 picks the mode, modulo 3. 0: the rest is a ciphertext, opened under the
//! fixture context and under an empty one (seed files hold real ciphertexts sealed by the
//! fixture keyring). 1: the rest is a plaintext, sealed in-process; the control bytes
//! after the mode pick edits of the ciphertext and a change of the context, and the
//! edited ciphertext is opened under the changed context. 2: the rest is a keyring file,
//! opened with the fixture master key (a seed holds the fixture file).
//!
//! Invariants: no panic; a sealed plaintext opens to itself; an edited ciphertext or a
//! changed context never opens, and only both unchanged do; a keyring file that opens
//! holds the fixture's keys (what it seals, the fixture keyring opens).
#![no_main]

use std::sync::OnceLock;

use arbitrary::{Result, Unstructured};
use bee_crypto::{Context, Keyring, MasterKey, Protector, SecretKey};
use bee_fuzz::{Edit, MAX_INPUT, block_on, byte, edited, within};
use libfuzzer_sys::fuzz_target;

/// A keyring of two keys (1, and 2 as primary), protected by the master key below.
const KEYRING: &[u8] = include_bytes!("../fixtures/keyring.json");
const MASTER: [u8; 32] = [0x42; 32];

#[derive(Debug)]
enum Input {
    Ciphertext(Vec<u8>),
    KeyringFile(Vec<u8>),
    Sealed {
        edits: Vec<Edit>,
        change: ContextChange,
        plaintext: Vec<u8>,
    },
}

/// How the context used to open differs from the one used to seal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContextChange {
    Same,
    Value,
    ExtraPair,
    Reordered,
    Renamed,
    Empty,
}

bee_fuzz::whole_input!(Input);

impl Input {
    fn read(mut u: Unstructured<'_>) -> Result<Self> {
        within(&u, MAX_INPUT)?;
        match byte(&mut u) % 3 {
            0 => return Ok(Input::Ciphertext(u.take_rest().to_vec())),
            2 => return Ok(Input::KeyringFile(u.take_rest().to_vec())),
            _ => {}
        }
        let edits = Edit::read_many(&mut u, 3);
        let change = match byte(&mut u) % 8 {
            1 => ContextChange::Value,
            2 => ContextChange::ExtraPair,
            3 => ContextChange::Reordered,
            4 => ContextChange::Renamed,
            5 => ContextChange::Empty,
            _ => ContextChange::Same,
        };
        Ok(Input::Sealed {
            edits,
            change,
            plaintext: u.take_rest().to_vec(),
        })
    }
}

fn protector() -> Protector {
    Protector::Key(MasterKey::from_key(SecretKey::from_bytes(MASTER)))
}

fn keyring() -> &'static Keyring {
    static KEYRING_CELL: OnceLock<Keyring> = OnceLock::new();
    KEYRING_CELL
        .get_or_init(|| block_on(protector().open_keyring(KEYRING)).expect("fixture keyring"))
}

/// The context the seed ciphertexts were sealed under.
fn fixture_context() -> Context {
    Context::record("tenant-7", "support-bot", "conv-42", "message").expect("context")
}

fn changed_context(change: ContextChange) -> Context {
    let base = || Context::new().with("tenant", "tenant-7").expect("pair");
    let context = match change {
        ContextChange::Same => return fixture_context(),
        ContextChange::Empty => return Context::new(),
        ContextChange::Value => Context::record("tenant-7", "support-bot", "conv-43", "message"),
        ContextChange::ExtraPair => fixture_context().with("extra", ""),
        ContextChange::Reordered => base()
            .with("conversation", "conv-42")
            .and_then(|c| c.with("bot", "support-bot"))
            .and_then(|c| c.with("kind", "message")),
        ContextChange::Renamed => base()
            .with("bots", "support-bot")
            .and_then(|c| c.with("conversation", "conv-42"))
            .and_then(|c| c.with("kind", "message")),
    };
    context.expect("context")
}

fuzz_target!(|input: Input| {
    let keyring = keyring();
    match input {
        Input::Ciphertext(bytes) => {
            let _ = keyring.open(&fixture_context(), &bytes);
            let _ = keyring.open(&Context::new(), &bytes);
            let _ = Keyring::sealed_with(&bytes);
            let _ = keyring.needs_reencrypt(&bytes);
        }
        Input::KeyringFile(document) => {
            let Ok(opened) = block_on(protector().open_keyring(&document)) else {
                return;
            };
            let context = fixture_context();
            let sealed = opened.seal(&context, b"probe").expect("seal");
            let back = keyring
                .open(&context, &sealed)
                .expect("a keyring file from elsewhere opened");
            assert_eq!(back, b"probe");
        }
        Input::Sealed {
            edits,
            change,
            plaintext,
        } => {
            let context = fixture_context();
            let sealed = keyring.seal(&context, &plaintext).expect("seal");
            let opened = keyring
                .open(&context, &sealed)
                .expect("own ciphertext opens");
            assert_eq!(opened, plaintext);

            let altered = edited(&sealed, &edits);
            let other = changed_context(change);
            let unchanged = altered == sealed && other == context;
            match keyring.open(&other, &altered) {
                Ok(opened) => {
                    assert!(unchanged, "an altered ciphertext or context opened");
                    assert_eq!(opened, plaintext);
                }
                Err(_) => assert!(!unchanged, "the original failed to open"),
            }
        }
    }
});
