//! The path of one chat turn through bee-pii, as a server would wire it: validate the
//! message, pseudonymise it for the model, restore the model's streamed answer for the
//! user, check the answer for leaks, and keep a redacted line for the log.
//!
//! Run with `cargo run -p bee-pii --example chat_pipeline`.

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::sync::Arc;

use bee_pii::{Detector, MessagePolicy, Profile, Redactor, StreamRedactor, StreamRestorer, Vault};

/// What a server keeps in its state: built once, shared by every request.
#[derive(Clone)]
struct Pii {
    detector: Detector,
    log_redactor: Redactor,
    messages: MessagePolicy,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let detector = Detector::new(&Profile::moderate())?;
    let pii = Pii {
        log_redactor: Redactor::new(detector.clone()),
        detector,
        messages: MessagePolicy::default(),
    };

    // One conversation: its vault would be loaded (decrypted) from storage here.
    let vault = Arc::new(Vault::default());

    // 1. Validate the message; the error's rule() goes to the audit log.
    let input = "Hi, I'm locked out. My email is ana.lee@example.org, card 4111 1111 1111 1111.";
    let message = pii.messages.check(input)?;

    // 2. The model sees placeholders only.
    let prompt = vault.pseudonymise(&pii.detector, &message.text);
    println!("to the model : {prompt}");

    // 3. The model streams an answer that uses the placeholders.
    let chunks = [
        "I have reset access for [EMA",
        "IL_1]; the card ending ",
        "in 1111 was not charged.",
    ];

    // 4. Placeholders go back for the user; anything else the model leaks is redacted.
    let mut restore = StreamRestorer::new(Arc::clone(&vault));
    let mut leak_check = StreamRedactor::new(pii.log_redactor.clone());
    let mut to_user = String::new();
    let mut checked = String::new();
    for chunk in chunks {
        to_user += &restore.push(chunk);
        checked += &leak_check.push(chunk);
    }
    to_user += &restore.finish();
    checked += &leak_check.finish();
    println!("to the user  : {to_user}");
    println!("leak check   : {checked:?}");

    // 5. The log gets labels, never values.
    println!("to the log   : {}", pii.log_redactor.redact(&message.text));

    // 6. The vault is stored (encrypted by the server) for the next turn.
    let stored = serde_json::to_vec(&*vault)?;
    println!("vault bytes  : {} (encrypt before storing)", stored.len());
    Ok(())
}
