//! RBAC: whole-segment wildcards, malformed grants, ownership, default roles.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use bee_auth::rbac::{DEFAULT_ROLES_YAML, RbacError};
use bee_auth::{ConfigError, Grant, GrantSet, Permission, Roles, Target};
use proptest::prelude::*;

fn perm(text: &str) -> Permission {
    Permission::parse(text).unwrap()
}

fn grants(list: &[&str]) -> GrantSet {
    GrantSet::parse(list).unwrap()
}

#[test]
fn a_wildcard_stands_for_one_whole_segment_only() {
    let set = grants(&["bot:*"]);
    let any = Target::any();
    assert!(set.allows("u1", &perm("bot:create"), &any));
    assert!(set.allows("u1", &perm("bot:delete"), &any));
    assert!(!set.allows("u1", &perm("bot_admin:read"), &any));
    assert!(!set.allows("u1", &perm("bots:read"), &any));
    assert!(!set.allows("u1", &perm("chat:send"), &any));

    let by_action = grants(&["*:read"]);
    assert!(by_action.allows("u1", &perm("bot:read"), &any));
    assert!(!by_action.allows("u1", &perm("bot:reader"), &any));
    assert!(!by_action.allows("u1", &perm("bot:write"), &any));
}

#[test]
fn a_lone_star_grants_everything() {
    let set = grants(&["*"]);
    for p in ["bot:create", "billing:view", "user:manage"] {
        assert!(set.allows("u1", &perm(p), &Target::any()));
    }
}

#[test]
fn malformed_grants_are_refused_on_load_and_grant_nothing_when_stored() {
    let malformed = [
        "",
        "bot",
        "bot:",
        ":read",
        "bot:*:own:x",
        "bot*",
        "bot:cre*",
        "*bot:read",
        "Bot:read",
        "bot read",
        "bot::read",
        "**",
        "*:",
        "bot:read ",
        "bot:read:",
        "bot:réad",
    ];
    for text in malformed {
        assert!(
            matches!(Grant::parse(text), Err(RbacError::Grant(_))),
            "{text:?}"
        );
    }
    let lenient = GrantSet::lenient(malformed.iter().chain(["chat:send"].iter()));
    assert_eq!(lenient.malformed().len(), malformed.len());
    assert!(lenient.allows("u1", &perm("chat:send"), &Target::any()));
    for p in ["bot:read", "bot:create", "bot_admin:read", "x:y"] {
        assert!(!lenient.allows("u1", &perm(p), &Target::any()), "{p}");
    }
    assert!(GrantSet::lenient(["bot"]).is_empty());
}

#[test]
fn permissions_asked_for_must_be_concrete() {
    for bad in ["bot:*", "*", "bot", "bot:read:own", "Bot:read", ""] {
        assert!(Permission::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn the_own_qualifier_requires_the_principal_to_own_the_resource() {
    let set = grants(&["bot:update:own"]);
    let update = perm("bot:update");
    assert!(set.allows("alice", &update, &Target::owned_by("alice")));
    assert!(!set.allows("alice", &update, &Target::owned_by("bob")));
    assert!(!set.allows("alice", &update, &Target::any()));
    assert!(!set.allows("", &update, &Target::owned_by("")));
}

#[test]
fn other_qualifiers_require_a_resource_label_and_star_requires_nothing() {
    let set = grants(&["bot:info:public"]);
    let info = perm("bot:info");
    assert!(set.allows("u", &info, &Target::any().with_labels(&["public"])));
    assert!(!set.allows("u", &info, &Target::any().with_labels(&["private"])));
    assert!(!set.allows("u", &info, &Target::any()));
    let any = grants(&["bot:info:*"]);
    assert!(any.allows("u", &info, &Target::any()));
}

#[test]
fn default_roles_grant_what_the_documentation_says() {
    let roles = Roles::default();
    let own = Target::owned_by("k1");
    let other = Target::owned_by("k2");
    let public = Target::any().with_labels(&["public"]);
    let cases: [(&str, &str, &Target<'_>, bool); 16] = [
        ("bot_user", "chat:send", &other, true),
        ("bot_user", "chat:history", &own, true),
        ("bot_user", "chat:history", &other, false),
        ("bot_user", "bot:info", &public, true),
        ("bot_user", "bot:info", &other, false),
        ("bot_user", "bot:create", &own, false),
        ("bot_admin", "chat:history", &other, true),
        ("bot_admin", "bot:update", &own, true),
        ("bot_admin", "bot:update", &other, false),
        ("bot_admin", "analytics:view", &other, false),
        ("tenant_admin", "bot:delete", &other, true),
        ("tenant_admin", "analytics:export", &other, true),
        ("tenant_admin", "billing:view", &other, true),
        ("tenant_admin", "billing:pay", &other, false),
        ("super_admin", "billing:pay", &other, true),
        ("nobody", "chat:send", &other, false),
    ];
    for (role, p, target, expected) in cases {
        assert_eq!(
            roles.allows(&[role], "k1", &perm(p), target),
            expected,
            "{role} {p}"
        );
    }
    let merged = roles.merged(&["bot_user", "tenant_admin"]);
    assert!(merged.allows("k1", &perm("bot:create"), &Target::any()));
    assert!(merged.allows("k1", &perm("chat:send"), &Target::any()));
}

#[test]
fn roles_can_be_replaced_from_yaml_or_toml() {
    let roles = Roles::from_yaml("roles:\n  reader: ['docs:read']\n").unwrap();
    assert_eq!(roles.names().collect::<Vec<_>>(), ["reader"]);
    assert!(!roles.allows(&["bot_user"], "k", &perm("chat:send"), &Target::any()));
    assert!(roles.allows(&["reader"], "k", &perm("docs:read"), &Target::any()));
    let toml = Roles::from_toml("[roles]\nwriter = [\"docs:write\"]\n").unwrap();
    assert!(toml.allows(&["writer"], "k", &perm("docs:write"), &Target::any()));
    assert!(Roles::from_yaml(DEFAULT_ROLES_YAML).is_ok());
}

#[test]
fn role_files_with_malformed_grants_or_names_are_refused_naming_the_role() {
    for (yaml, field) in [
        ("roles:\n  reader: ['docs']\n", "roles.reader"),
        ("roles:\n  Reader: ['docs:read']\n", "roles.Reader"),
        ("roles:\n  empty: []\n", "roles.empty"),
        ("roles: {}\n", "roles"),
    ] {
        match Roles::from_yaml(yaml) {
            Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{yaml}: {other:?}"),
        }
    }
}

/// The model: split on `:`, compare segment by segment, `*` matches any one segment.
fn model_allows(grant: &str, permission: &str) -> bool {
    if grant == "*" {
        return true;
    }
    let g: Vec<&str> = grant.split(':').collect();
    let p: Vec<&str> = permission.split(':').collect();
    let segment_ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    let well_formed =
        (g.len() == 2 || g.len() == 3) && g.iter().all(|s| *s == "*" || segment_ok(s));
    // No qualifier (or `*`) means unconditional; other qualifiers need facts not given.
    well_formed
        && (g.len() == 2 || g[2] == "*")
        && (g[0] == "*" || g[0] == p[0])
        && (g[1] == "*" || g[1] == p[1])
}

proptest! {
    #[test]
    fn grants_match_as_the_segment_model_says(
        grant in "(\\*|[ab_*]{0,3})(:(\\*|[ab_*]{0,3})){0,3}",
        resource in "[ab_]{1,3}",
        action in "[ab_]{1,3}",
    ) {
        let permission = format!("{resource}:{action}");
        let set = GrantSet::lenient([grant.as_str()]);
        prop_assert_eq!(
            set.allows("p", &perm(&permission), &Target::any()),
            model_allows(&grant, &permission)
        );
    }
}
