//! The keyring at rest: master key files, passphrases, providers, tampering.

#![allow(clippy::unwrap_used, clippy::panic, clippy::cast_possible_truncation)]

use std::sync::Arc;

use bee_crypto::{
    Argon2Params, BoxFuture, Context, KeyProvider, Keyring, KeyringFile, KeyringFileError,
    MasterKey, MasterKeyError, Passphrase, Protector, ProviderError, SecretKey,
};

/// Small Argon2id costs so the tests stay fast in debug builds.
const CHEAP: Argon2Params = Argon2Params {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

fn context() -> Context {
    Context::record("t", "b", "c", "message").unwrap()
}

fn passphrase(text: &str) -> Protector {
    Protector::Passphrase {
        passphrase: Passphrase::from(text),
        params: CHEAP,
    }
}

#[tokio::test]
async fn a_keyring_saved_under_a_master_key_loads_with_every_key_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::generate().unwrap();
    let copy = MasterKey::from_base64(&master.to_base64()).unwrap();
    let file = KeyringFile::new(dir.path().join("keyring.json"), Protector::Key(master));

    let keyring = file.load_or_create().await.unwrap();
    let sealed = keyring.seal(&context(), b"before rotation").unwrap();
    keyring.rotate().unwrap();
    keyring.add_key().unwrap();
    keyring.disable(keyring.keys()[2].id).unwrap();
    file.save(&keyring).await.unwrap();

    let reopened = KeyringFile::new(dir.path().join("keyring.json"), Protector::Key(copy));
    let loaded = reopened.load().await.unwrap();
    assert_eq!(loaded.keys(), keyring.keys());
    assert_eq!(
        loaded.open(&context(), &sealed).unwrap(),
        b"before rotation"
    );
}

#[tokio::test]
async fn load_or_create_never_replaces_an_existing_keyring() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    let master_path = dir.path().join("master.key");
    let file = KeyringFile::new(
        &path,
        Protector::Key(MasterKey::load_or_create_file(&master_path).unwrap()),
    );
    let first = file.load_or_create().await.unwrap();
    let sealed = first.seal(&context(), b"x").unwrap();

    let again = KeyringFile::new(
        &path,
        Protector::Key(MasterKey::load_or_create_file(&master_path).unwrap()),
    );
    let second = again.load_or_create().await.unwrap();
    assert_eq!(second.open(&context(), &sealed).unwrap(), b"x");
    let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(leftovers, 2, "only the key file and the keyring remain");
}

#[cfg(unix)]
#[tokio::test]
async fn key_and_keyring_files_are_readable_by_their_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let master = MasterKey::load_or_create_file(dir.path().join("master.key")).unwrap();
    let file = KeyringFile::new(dir.path().join("keyring.json"), Protector::Key(master));
    let keyring = file.load_or_create().await.unwrap();
    file.save(&keyring).await.unwrap();
    for name in ["master.key", "keyring.json"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
}

#[tokio::test]
async fn the_wrong_master_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    let file = KeyringFile::new(&path, Protector::Key(MasterKey::generate().unwrap()));
    file.load_or_create().await.unwrap();
    let wrong = KeyringFile::new(&path, Protector::Key(MasterKey::generate().unwrap()));
    assert!(matches!(
        wrong.load().await,
        Err(KeyringFileError::Rejected)
    ));
}

#[tokio::test]
async fn a_passphrase_keyring_opens_only_with_that_passphrase() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    let keyring = KeyringFile::new(&path, passphrase("correct horse"))
        .load_or_create()
        .await
        .unwrap();
    let document = std::fs::read_to_string(&path).unwrap();
    assert!(document.contains("\"kind\": \"passphrase\""), "{document}");
    assert!(document.contains("\"memory_kib\": 64"), "{document}");

    let right = KeyringFile::new(&path, passphrase("correct horse"));
    assert_eq!(right.load().await.unwrap().keys(), keyring.keys());
    let wrong = KeyringFile::new(&path, passphrase("battery staple"));
    assert!(matches!(
        wrong.load().await,
        Err(KeyringFileError::Rejected)
    ));
}

#[tokio::test]
async fn the_stored_argon2_parameters_are_authenticated() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keyring.json");
    KeyringFile::new(&path, passphrase("pw"))
        .load_or_create()
        .await
        .unwrap();
    let document = std::fs::read_to_string(&path).unwrap();
    let weakened = document.replace("\"iterations\": 1", "\"iterations\": 2");
    assert_ne!(weakened, document);
    std::fs::write(&path, weakened).unwrap();
    let result = KeyringFile::new(&path, passphrase("pw")).load().await;
    assert!(
        matches!(result, Err(KeyringFileError::Rejected)),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_keyring_protected_one_way_is_not_opened_another_way() {
    let protector = passphrase("pw");
    let document = protector
        .seal_keyring(&Keyring::generate().unwrap())
        .await
        .unwrap();
    let with_key = Protector::Key(MasterKey::generate().unwrap());
    let result = with_key.open_keyring(&document).await;
    match result {
        Err(error @ KeyringFileError::ProtectionMismatch { .. }) => {
            assert_eq!(
                error.to_string(),
                "keyring is protected by a passphrase, but a master-key was given"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn every_altered_byte_of_the_document_is_refused() {
    let master = MasterKey::generate().unwrap();
    let keyring = Keyring::generate().unwrap();
    let protector = Protector::Key(master);
    let document = protector.seal_keyring(&keyring).await.unwrap();
    for position in 0..document.len() {
        let mut altered = document.clone();
        altered[position] ^= 0x01;
        // Whitespace changes are the only edits that keep the same meaning.
        let whitespace = document[position].is_ascii_whitespace();
        let result = protector.open_keyring(&altered).await;
        if !whitespace {
            assert!(
                result.is_err(),
                "byte {position} ({})",
                document[position] as char
            );
        }
    }
}

/// A stand-in for an external key service: it holds its own key and never shows it.
struct TestService {
    name: &'static str,
    key: MasterKey,
}

impl KeyProvider for TestService {
    fn name(&self) -> &str {
        self.name
    }

    fn wrap<'a>(
        &'a self,
        context: &'a Context,
        key: &'a SecretKey,
    ) -> BoxFuture<'a, Result<Vec<u8>, ProviderError>> {
        self.key.wrap(context, key)
    }

    fn unwrap<'a>(
        &'a self,
        context: &'a Context,
        wrapped: &'a [u8],
    ) -> BoxFuture<'a, Result<SecretKey, ProviderError>> {
        self.key.unwrap(context, wrapped)
    }
}

#[tokio::test]
async fn a_key_provider_protects_the_keyring_and_is_checked_by_name() {
    let service = Arc::new(TestService {
        name: "test-kms",
        key: MasterKey::generate().unwrap(),
    });
    let protector = Protector::Provider(service.clone());
    let keyring = Keyring::generate().unwrap();
    let document = protector.seal_keyring(&keyring).await.unwrap();
    let loaded = protector.open_keyring(&document).await.unwrap();
    assert_eq!(loaded.keys(), keyring.keys());

    let impostor = Protector::Provider(Arc::new(TestService {
        name: "other-kms",
        key: MasterKey::generate().unwrap(),
    }));
    let result = impostor.open_keyring(&document).await;
    assert!(matches!(
        result,
        Err(KeyringFileError::ProtectionMismatch { .. })
    ));
}

#[tokio::test]
async fn a_provider_outage_is_reported_as_such() {
    struct Down;
    impl KeyProvider for Down {
        fn name(&self) -> &str {
            "down"
        }
        fn wrap<'a>(
            &'a self,
            _: &'a Context,
            _: &'a SecretKey,
        ) -> BoxFuture<'a, Result<Vec<u8>, ProviderError>> {
            Box::pin(async { Err(ProviderError::Unavailable("connection refused".into())) })
        }
        fn unwrap<'a>(
            &'a self,
            _: &'a Context,
            _: &'a [u8],
        ) -> BoxFuture<'a, Result<SecretKey, ProviderError>> {
            Box::pin(async { Err(ProviderError::Unavailable("connection refused".into())) })
        }
    }
    let protector = Protector::Provider(Arc::new(Down));
    let result = protector.seal_keyring(&Keyring::generate().unwrap()).await;
    assert!(matches!(
        result,
        Err(KeyringFileError::Provider(ProviderError::Unavailable(_)))
    ));
}

#[test]
fn master_keys_load_from_base64_text_and_files() {
    let master = MasterKey::generate().unwrap();
    let text = master.to_base64();
    assert_eq!(text.len(), 44);
    assert!(MasterKey::from_base64(&format!("  {}\n", *text)).is_ok());

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    std::fs::write(&path, format!("{}\n", *text)).unwrap();
    let from_file = MasterKey::from_file(&path).unwrap();
    assert_eq!(*from_file.to_base64(), *text);
}

#[test]
fn a_missing_environment_variable_is_named_in_the_error() {
    // No test sets this variable (setting one needs `unsafe`, which the workspace forbids).
    let name = "BEE_CRYPTO_TEST_UNSET_MASTER_KEY_7F3A";
    let error = MasterKey::from_env(name).unwrap_err();
    assert!(matches!(error, MasterKeyError::MissingEnv(_)));
    assert_eq!(
        error.to_string(),
        format!("environment variable {name} holds no master key")
    );
}

#[test]
fn malformed_master_keys_are_rejected_without_echoing_them() {
    for text in [
        "",
        "abc",
        "AAAA",
        &"A".repeat(43),
        &"A".repeat(48),
        "not base64 at all!",
    ] {
        let error = MasterKey::from_base64(text).unwrap_err();
        assert_eq!(
            error.to_string(),
            "master key must be standard base64 of exactly 32 bytes"
        );
    }
    let debug = format!("{:?}", MasterKey::generate().unwrap());
    assert_eq!(debug, "MasterKey(..)");
}

#[test]
fn passphrase_derivation_is_deterministic_and_salt_bound() {
    let pass = Passphrase::from("pw");
    let a = MasterKey::derive(&pass, &[1; 16], &CHEAP).unwrap();
    let b = MasterKey::derive(&pass, &[1; 16], &CHEAP).unwrap();
    let c = MasterKey::derive(&pass, &[2; 16], &CHEAP).unwrap();
    assert_eq!(*a.to_base64(), *b.to_base64());
    assert_ne!(*a.to_base64(), *c.to_base64());
    assert!(matches!(
        MasterKey::derive(&pass, &[1; 15], &CHEAP),
        Err(MasterKeyError::Salt)
    ));
}

#[tokio::test]
async fn another_instance_reloads_a_rotated_keyring_and_refuses_an_older_copy() {
    let protector = Protector::Key(MasterKey::generate().unwrap());
    let first = Keyring::generate().unwrap();
    let original = protector.seal_keyring(&first).await.unwrap();
    let second = protector.open_keyring(&original).await.unwrap();

    first.rotate().unwrap();
    let sealed = first.seal(&context(), b"after rotation").unwrap();
    assert!(second.open(&context(), &sealed).is_err());

    let rotated = protector.seal_keyring(&first).await.unwrap();
    second
        .reload_from(protector.open_keyring(&rotated).await.unwrap())
        .unwrap();
    assert_eq!(second.open(&context(), &sealed).unwrap(), b"after rotation");
    assert_eq!(second.primary(), first.primary());

    let stale = protector.open_keyring(&original).await.unwrap();
    assert_eq!(
        second.reload_from(stale),
        Err(bee_crypto::KeyringError::Older)
    );
    assert_eq!(second.primary(), first.primary());
}
