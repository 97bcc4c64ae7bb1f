//! The records, the same checks against SQLite and PostgreSQL.

use std::sync::Arc;

use bee_crypto::{SubjectId, SubjectKeyStore};
use jiff::Timestamp;
use public_bee::model::{
    Bot, BotId, Conversation, ConversationId, KnowledgeEntry, RateTiers, Role, StoredMessage,
    TenantId,
};
use public_bee::store::{BotQuery, PostgresStore, SqliteStore, Store, StoreError};

use crate::pg;

fn at(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_750_000_000 + seconds).unwrap()
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

fn bot(tenant_id: &str, name: &str, public: bool) -> Bot {
    Bot {
        id: BotId::random(),
        tenant_id: tenant(tenant_id),
        name: name.into(),
        display_name: format!("{name} bot"),
        description: "answers questions".into(),
        public,
        active: true,
        system_prompt: "Be brief.".into(),
        knowledge: vec![KnowledgeEntry {
            title: "Hours".into(),
            content: "Open 9 to 5.".into(),
        }],
        allowed_origins: vec!["https://shop.example".into()],
        require_signature: false,
        rate_limits: RateTiers::default(),
        created_at: at(0),
        updated_at: at(0),
    }
}

fn conversation(bot: &Bot, subject: &str, seconds: i64) -> Conversation {
    Conversation {
        id: ConversationId::random(),
        tenant_id: bot.tenant_id.clone(),
        bot_id: bot.id.clone(),
        subject_id: subject.into(),
        created_at: at(seconds),
        updated_at: at(seconds),
        erased_at: None,
    }
}

fn message(conversation: &Conversation, seq: i64, role: Role, sealed: &[u8]) -> StoredMessage {
    StoredMessage {
        conversation_id: conversation.id.clone(),
        seq,
        role,
        sealed: sealed.to_vec(),
        created_at: at(seq),
    }
}

async fn bots_round_trip_and_list_by_tenant_and_visibility(store: Arc<dyn Store>) {
    let public = bot("acme", "help", true);
    let private = bot("acme", "internal", false);
    let other = bot("globex", "help", true);
    for b in [&public, &private, &other] {
        store.insert_bot(b).await.unwrap();
    }
    assert_eq!(store.bot(&public.id).await.unwrap().as_ref(), Some(&public));
    assert_eq!(store.bot(&BotId::random()).await.unwrap(), None);

    let acme = BotQuery {
        tenant: Some(tenant("acme")),
        public_only: false,
    };
    let ids: Vec<BotId> = store
        .bots(&acme)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&public.id) && ids.contains(&private.id));

    let listed = BotQuery {
        tenant: None,
        public_only: true,
    };
    let ids: Vec<BotId> = store
        .bots(&listed)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert!(ids.contains(&public.id) && ids.contains(&other.id) && !ids.contains(&private.id));

    let mut changed = public.clone();
    changed.active = false;
    changed.rate_limits.per_minute = 5;
    changed.updated_at = at(60);
    assert!(store.update_bot(&changed).await.unwrap());
    assert_eq!(store.bot(&public.id).await.unwrap(), Some(changed));
    let ids: Vec<BotId> = store
        .bots(&listed)
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert!(!ids.contains(&public.id), "an inactive bot is not listed");
}

async fn a_second_bot_of_the_same_name_in_a_tenant_conflicts(store: Arc<dyn Store>) {
    store.insert_bot(&bot("acme", "dup", true)).await.unwrap();
    let err = store
        .insert_bot(&bot("acme", "dup", true))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict));
    store.insert_bot(&bot("globex", "dup", true)).await.unwrap();
}

async fn messages_stay_sealed_and_in_order(store: Arc<dyn Store>) {
    let b = bot("acme", "chat", true);
    store.insert_bot(&b).await.unwrap();
    let older = conversation(&b, "subject-1", 0);
    let newer = conversation(&b, "subject-2", 10);
    store.insert_conversation(&older).await.unwrap();
    store.insert_conversation(&newer).await.unwrap();

    let batch = [
        message(&older, 0, Role::User, b"\x01sealed-question"),
        message(&older, 1, Role::Assistant, b"\x02sealed-answer"),
    ];
    store
        .append_messages(&older.id, &batch, at(20))
        .await
        .unwrap();
    assert_eq!(store.messages(&older.id).await.unwrap(), batch);

    let listed = store.conversations_of_bot(&b.id, 10).await.unwrap();
    assert_eq!(listed[0].id, older.id, "most recently updated first");
    assert_eq!(listed[0].updated_at, at(20));
    assert_eq!(store.conversations_of_bot(&b.id, 1).await.unwrap().len(), 1);

    let again = [message(&older, 1, Role::User, b"late")];
    let err = store
        .append_messages(&older.id, &again, at(30))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict));
    assert_eq!(
        store.messages(&older.id).await.unwrap().len(),
        2,
        "nothing half-written"
    );
}

async fn erasure_removes_the_sealed_messages_and_marks_the_conversations(store: Arc<dyn Store>) {
    let b = bot("acme", "erase", true);
    store.insert_bot(&b).await.unwrap();
    let mine = conversation(&b, "subject-e", 0);
    let theirs = conversation(&b, "subject-f", 0);
    for c in [&mine, &theirs] {
        store.insert_conversation(c).await.unwrap();
        let m = [message(c, 0, Role::User, b"sealed")];
        store.append_messages(&c.id, &m, at(1)).await.unwrap();
    }

    let erasure = store
        .erase_subject(&tenant("acme"), "subject-e", at(5))
        .await
        .unwrap();
    assert_eq!(erasure.conversations, 1);
    assert!(store.messages(&mine.id).await.unwrap().is_empty());
    let erased = store.conversation(&mine.id).await.unwrap().unwrap();
    assert_eq!(erased.erased_at, Some(at(5)));
    assert_eq!(
        store.messages(&theirs.id).await.unwrap().len(),
        1,
        "others untouched"
    );

    let again = store
        .erase_subject(&tenant("acme"), "subject-e", at(6))
        .await
        .unwrap();
    assert_eq!(again.conversations, 0);
    let other_tenant = store
        .erase_subject(&tenant("globex"), "subject-f", at(6))
        .await
        .unwrap();
    assert_eq!(
        other_tenant.conversations, 0,
        "a subject id is scoped to its tenant"
    );
}

/// bee-crypto's conditional writes over the `subject_keys` table.
async fn subject_keys_follow_bee_cryptos_contract(keys: Arc<dyn SubjectKeyStore>) {
    let subject = SubjectId::new("acme/ps_1").unwrap();
    assert_eq!(keys.fetch(&subject).await.unwrap(), None);
    assert!(keys.insert(&subject, 1, b"w1").await.unwrap());
    assert!(
        !keys.insert(&subject, 2, b"w2").await.unwrap(),
        "a live key is never replaced by insert"
    );
    assert!(keys.replace(&subject, 1, b"w1b").await.unwrap());
    assert!(
        !keys.replace(&subject, 2, b"zz").await.unwrap(),
        "only its own generation"
    );
    assert!(keys.erase(&subject).await.unwrap());
    assert!(!keys.erase(&subject).await.unwrap());
    let record = keys.fetch(&subject).await.unwrap().unwrap();
    assert_eq!((record.generation, record.wrapped), (1, None));
    assert!(
        !keys.replace(&subject, 1, b"back").await.unwrap(),
        "never revived"
    );
    assert!(
        !keys.insert(&subject, 1, b"same").await.unwrap(),
        "generations only go up"
    );
    assert!(keys.insert(&subject, 2, b"w2").await.unwrap());
    assert_eq!(keys.fetch(&subject).await.unwrap().unwrap().generation, 2);
}

async fn deleting_a_bot_deletes_its_conversations(store: Arc<dyn Store>) {
    let b = bot("acme", "gone", true);
    store.insert_bot(&b).await.unwrap();
    let c = conversation(&b, "s", 0);
    store.insert_conversation(&c).await.unwrap();
    store
        .append_messages(&c.id, &[message(&c, 0, Role::User, b"x")], at(1))
        .await
        .unwrap();
    assert!(store.delete_bot(&b.id).await.unwrap());
    assert!(!store.delete_bot(&b.id).await.unwrap());
    assert_eq!(store.conversation(&c.id).await.unwrap(), None);
    assert!(store.messages(&c.id).await.unwrap().is_empty());
}

/// Writes of concurrent requests (committed together by the SQLite store): each is
/// answered with its own outcome, and a failing one takes nothing else with it.
async fn concurrent_writes_each_get_their_own_outcome(store: Arc<dyn Store>) {
    let b = bot("acme", "busy", true);
    store.insert_bot(&b).await.unwrap();
    let shared = conversation(&b, "subject-shared", 0);
    store.insert_conversation(&shared).await.unwrap();

    let mut started = Vec::new();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let store = Arc::clone(&store);
        let fresh = conversation(&b, &format!("subject-{i}"), i);
        started.push(fresh.clone());
        tasks.push(tokio::spawn(async move {
            let exchange = [
                message(&fresh, 0, Role::User, b"q"),
                message(&fresh, 1, Role::Assistant, b"a"),
            ];
            store.start_conversation(&fresh, &exchange).await
        }));
    }
    // Several requests race to append at the same position of one conversation.
    let mut racers = Vec::new();
    for i in 0..6u8 {
        let store = Arc::clone(&store);
        let shared = shared.clone();
        racers.push(tokio::spawn(async move {
            let exchange = [
                message(&shared, 0, Role::User, &[b'q', i]),
                message(&shared, 1, Role::Assistant, &[b'a', i]),
            ];
            store.append_messages(&shared.id, &exchange, at(50)).await
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let mut won = 0;
    for racer in racers {
        match racer.await.unwrap() {
            Ok(()) => won += 1,
            Err(StoreError::Conflict) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1, "one append wins the position, the others conflict");
    let stored = store.messages(&shared.id).await.unwrap();
    assert_eq!(stored.len(), 2, "the losers left nothing behind");
    assert_eq!(
        stored[0].sealed[1], stored[1].sealed[1],
        "one request's pair"
    );
    for fresh in &started {
        assert_eq!(
            store.conversation(&fresh.id).await.unwrap().as_ref(),
            Some(fresh)
        );
        assert_eq!(store.messages(&fresh.id).await.unwrap().len(), 2);
    }
}

/// A bot read once and then changed or deleted is never served as it was.
async fn a_changed_bot_is_read_as_changed(store: Arc<dyn Store>) {
    let mut b = bot("acme", "changing", true);
    store.insert_bot(&b).await.unwrap();
    assert!(store.bot(&b.id).await.unwrap().unwrap().active);
    b.active = false;
    b.updated_at = at(5);
    assert!(store.update_bot(&b).await.unwrap());
    assert_eq!(store.bot(&b.id).await.unwrap().as_ref(), Some(&b));
    assert!(store.delete_bot(&b.id).await.unwrap());
    assert_eq!(store.bot(&b.id).await.unwrap(), None);
}

async fn all_checks(store: Arc<dyn Store>) {
    store.ping().await.unwrap();
    bots_round_trip_and_list_by_tenant_and_visibility(Arc::clone(&store)).await;
    a_second_bot_of_the_same_name_in_a_tenant_conflicts(Arc::clone(&store)).await;
    messages_stay_sealed_and_in_order(Arc::clone(&store)).await;
    erasure_removes_the_sealed_messages_and_marks_the_conversations(Arc::clone(&store)).await;
    deleting_a_bot_deletes_its_conversations(Arc::clone(&store)).await;
    concurrent_writes_each_get_their_own_outcome(Arc::clone(&store)).await;
    a_changed_bot_is_read_as_changed(Arc::clone(&store)).await;
    store.close().await.unwrap();
}

#[tokio::test]
async fn sqlite_store_keeps_records_as_specified() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("records.sqlite3");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    subject_keys_follow_bee_cryptos_contract(store.clone()).await;
    all_checks(store).await;

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the database file is private");

    // A second start finds its migrations applied and its records in place.
    let reopened = SqliteStore::open(&path).await.unwrap();
    let all = reopened.bots(&BotQuery::default()).await.unwrap();
    assert!(!all.is_empty());
}

#[tokio::test]
async fn postgres_store_keeps_records_as_specified() {
    pg::with_schema("store", |url| async move {
        let store = Arc::new(PostgresStore::connect(&url).await.unwrap());
        subject_keys_follow_bee_cryptos_contract(store.clone()).await;
        all_checks(store).await;
        // A second instance migrating the same schema finds nothing to do.
        let again = PostgresStore::connect(&url).await.unwrap();
        assert!(!again.bots(&BotQuery::default()).await.unwrap().is_empty());
    })
    .await;
}
