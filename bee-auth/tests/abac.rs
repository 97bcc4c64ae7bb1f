//! ABAC: tenant isolation, allowed hours in a time zone, IP ranges, countries, resource
//! status, custom rules, and decisions that list every denial.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::net::IpAddr;
use std::sync::Arc;

use bee_auth::abac::{Context, Effect, FnRule, Principal, Resource};
use bee_auth::{AbacPolicy, AccessRequest, ConfigError, GeoLookup, Permission, RuleOutcome};
use jiff::Timestamp;

struct FakeGeo;

impl GeoLookup for FakeGeo {
    fn country(&self, ip: IpAddr) -> Option<String> {
        match ip.to_string().as_str() {
            "192.0.2.1" => Some("FR".into()),
            "192.0.2.2" => Some("US".into()),
            _ => None,
        }
    }
}

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

struct Ask {
    principal_tenant: &'static str,
    resource_tenant: &'static str,
    active: bool,
    now: Timestamp,
    ip: Option<IpAddr>,
    action: Permission,
}

impl Ask {
    fn new() -> Self {
        Self {
            principal_tenant: "acme",
            resource_tenant: "acme",
            active: true,
            now: at("2026-01-05T10:00:00Z"),
            ip: Some("192.0.2.1".parse().unwrap()),
            action: Permission::parse("chat:send").unwrap(),
        }
    }

    fn request(&self) -> AccessRequest<'_> {
        AccessRequest {
            principal: Principal {
                id: "key1",
                tenant: self.principal_tenant,
                attributes: &[],
            },
            resource: Resource {
                id: "bot1",
                tenant: self.resource_tenant,
                owner: None,
                active: self.active,
                attributes: &[("plan", "free")],
            },
            action: &self.action,
            context: Context {
                now: self.now,
                ip: self.ip,
                attributes: &[],
            },
        }
    }
}

fn policy(yaml: &str) -> AbacPolicy {
    AbacPolicy::from_yaml(yaml, Some(Arc::new(FakeGeo))).unwrap()
}

#[test]
fn tenant_isolation_denies_cross_tenant_access() {
    let p = policy("rules:\n  - {name: tenant isolation, kind: same_tenant}\n");
    assert!(p.evaluate(&Ask::new().request()).allowed);
    let mut other = Ask::new();
    other.resource_tenant = "globex";
    let decision = p.evaluate(&other.request());
    assert!(!decision.allowed);
    assert_eq!(decision.denials[0].rule, "tenant isolation");
    let mut empty = Ask::new();
    empty.principal_tenant = "";
    empty.resource_tenant = "";
    assert!(!p.evaluate(&empty.request()).allowed);
}

const OFFICE_HOURS: &str = "
rules:
  - name: office hours
    kind: allowed_hours
    time_zone: Europe/Paris
    start: '08:00'
    end: '18:00'
    days: [mon, tue, wed, thu, fri]
";

#[test]
fn allowed_hours_follow_the_time_zone_across_daylight_saving() {
    let p = policy(OFFICE_HOURS);
    let cases = [
        // Winter: Paris is UTC+1.
        ("2026-01-05T06:59:59Z", false),
        ("2026-01-05T07:00:00Z", true),
        ("2026-01-05T16:59:59Z", true),
        ("2026-01-05T17:00:00Z", false),
        // Summer: Paris is UTC+2.
        ("2026-07-06T05:59:59Z", false),
        ("2026-07-06T06:00:00Z", true),
        ("2026-07-06T15:59:59Z", true),
        ("2026-07-06T16:00:00Z", false),
        // Saturday, in office hours.
        ("2026-01-10T10:00:00Z", false),
    ];
    for (now, allowed) in cases {
        let mut ask = Ask::new();
        ask.now = at(now);
        assert_eq!(p.evaluate(&ask.request()).allowed, allowed, "{now}");
    }
}

#[test]
fn a_window_past_midnight_belongs_to_the_day_it_starts() {
    let p = policy(
        "rules:\n  - {name: night, kind: allowed_hours, time_zone: UTC, start: '22:00', \
         end: '02:00', days: [fri]}\n",
    );
    let cases = [
        ("2026-01-09T23:00:00Z", true),  // Friday night
        ("2026-01-10T01:59:00Z", true),  // still Friday's window, on Saturday
        ("2026-01-10T02:00:00Z", false), // window over
        ("2026-01-10T23:00:00Z", false), // Saturday night
        ("2026-01-09T01:00:00Z", false), // Thursday's window, on Friday
    ];
    for (now, allowed) in cases {
        let mut ask = Ask::new();
        ask.now = at(now);
        assert_eq!(p.evaluate(&ask.request()).allowed, allowed, "{now}");
    }
}

#[test]
fn the_bundled_time_zone_database_knows_the_zones_rules_use() {
    // Hosts without /usr/share/zoneinfo fall back to this copy (feature
    // tzdb-bundle-always), so allowed-hours rules load on a bare container too.
    let bundled = jiff::tz::TimeZoneDatabase::bundled();
    for zone in ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"] {
        assert!(bundled.get(zone).is_ok(), "{zone}");
    }
}

#[test]
fn ip_ranges_cover_v4_and_v6_and_an_unknown_address_is_denied() {
    let p = policy(
        "rules:\n  - {name: office, kind: ip_ranges, allow: ['192.0.2.0/24', '2001:db8::/32', \
         '198.51.100.7']}\n",
    );
    for (ip, allowed) in [
        (Some("192.0.2.200"), true),
        (Some("2001:db8:1::1"), true),
        (Some("198.51.100.7"), true),
        (Some("198.51.100.8"), false),
        (Some("::ffff:192.0.2.9"), true),
        (None, false),
    ] {
        let mut ask = Ask::new();
        ask.ip = ip.map(|i| i.parse().unwrap());
        assert_eq!(p.evaluate(&ask.request()).allowed, allowed, "{ip:?}");
    }
}

#[test]
fn countries_come_from_the_geo_lookup_and_unknown_ones_are_denied() {
    let allow = policy("rules:\n  - {name: eu, kind: countries, allow: [fr, BE]}\n");
    let deny = policy("rules:\n  - {name: embargo, kind: countries, deny: [US]}\n");
    for (ip, allowed_by_allow, allowed_by_deny) in [
        ("192.0.2.1", true, true),
        ("192.0.2.2", false, false),
        ("203.0.113.1", false, false),
    ] {
        let mut ask = Ask::new();
        ask.ip = Some(ip.parse().unwrap());
        assert_eq!(
            allow.evaluate(&ask.request()).allowed,
            allowed_by_allow,
            "{ip}"
        );
        assert_eq!(
            deny.evaluate(&ask.request()).allowed,
            allowed_by_deny,
            "{ip}"
        );
    }
}

#[test]
fn inactive_resources_are_denied() {
    let p = policy("rules:\n  - {name: live bots, kind: resource_active}\n");
    let mut ask = Ask::new();
    assert!(p.evaluate(&ask.request()).allowed);
    ask.active = false;
    assert!(!p.evaluate(&ask.request()).allowed);
}

#[test]
fn deny_overrides_allow_and_every_denial_is_listed() {
    let p = policy(
        "rules:
  - {name: tenant isolation, kind: same_tenant}
  - {name: live bots, kind: resource_active}
  - {name: office, kind: ip_ranges, allow: ['10.0.0.0/8']}
",
    );
    let mut ask = Ask::new();
    ask.resource_tenant = "globex";
    ask.active = false;
    let decision = p.evaluate(&ask.request());
    assert!(!decision.allowed);
    let rules: Vec<&str> = decision.denials.iter().map(|d| d.rule.as_str()).collect();
    assert_eq!(rules, ["tenant isolation", "live bots", "office"]);
}

#[test]
fn rules_limited_to_actions_do_not_speak_about_others() {
    let p = policy(
        "rules:\n  - {name: billing from office, kind: ip_ranges, allow: ['10.0.0.0/8'], \
         actions: ['billing:*']}\n",
    );
    let mut ask = Ask::new();
    // chat:send: the rule does not apply, and the default is deny.
    let decision = p.evaluate(&ask.request());
    assert!(!decision.allowed);
    assert_eq!(decision.denials[0].rule, "default");
    ask.action = Permission::parse("billing:view").unwrap();
    assert!(!p.evaluate(&ask.request()).allowed);
    ask.ip = Some("10.1.1.1".parse().unwrap());
    assert!(p.evaluate(&ask.request()).allowed);

    let open = AbacPolicy::from_yaml(
        "default: allow\nrules:\n  - {name: b, kind: ip_ranges, allow: ['10.0.0.0/8'], \
         actions: ['billing:*']}\n",
        None,
    )
    .unwrap();
    let chat = Ask::new();
    assert!(open.evaluate(&chat.request()).allowed);
}

#[test]
fn custom_rules_see_every_attribute() {
    let p = AbacPolicy::new()
        .with_rule(Arc::new(FnRule::new(
            "paid plans only",
            |r: &AccessRequest<'_>| {
                let plan = r.resource.attributes.iter().find(|(k, _)| *k == "plan");
                match plan {
                    Some((_, "free")) => RuleOutcome::Deny("free plan".into()),
                    Some(_) => RuleOutcome::Allow,
                    None => RuleOutcome::NotApplicable,
                }
            },
        )))
        .with_default(Effect::Deny);
    let decision = p.evaluate(&Ask::new().request());
    assert!(!decision.allowed);
    assert_eq!(decision.denials[0].reason, "free plan");
}

#[test]
fn an_empty_policy_denies() {
    assert!(!AbacPolicy::new().evaluate(&Ask::new().request()).allowed);
}

#[test]
fn broken_rule_files_are_refused_naming_the_field() {
    let cases = [
        (
            "rules:\n  - {name: x, kind: allowed_hours, time_zone: Mars/Olympus, start: '08:00', end: '09:00'}\n",
            "rules[0].time_zone",
        ),
        (
            "rules:\n  - {name: x, kind: allowed_hours, time_zone: UTC, start: '25:00', end: '09:00'}\n",
            "rules[0].start",
        ),
        (
            "rules:\n  - {name: x, kind: allowed_hours, time_zone: UTC, start: '09:00', end: '09:00'}\n",
            "rules[0].end",
        ),
        (
            "rules:\n  - {name: x, kind: allowed_hours, time_zone: UTC, start: '08:00', end: '09:00', days: [funday]}\n",
            "rules[0].days",
        ),
        (
            "rules:\n  - {name: x, kind: ip_ranges, allow: []}\n",
            "rules[0].allow",
        ),
        (
            "rules:\n  - {name: x, kind: ip_ranges, allow: [not-an-ip]}\n",
            "rules[0].allow",
        ),
        (
            "rules:\n  - {name: x, kind: countries, allow: [FR], deny: [US]}\n",
            "rules[0]",
        ),
        (
            "rules:\n  - {name: x, kind: countries, allow: [FRA]}\n",
            "rules[0]",
        ),
        (
            "rules:\n  - {name: x, kind: same_tenant, allow: ['10.0.0.0/8']}\n",
            "rules[0]",
        ),
        (
            "rules:\n  - {name: '', kind: same_tenant}\n",
            "rules[0].name",
        ),
        (
            "rules:\n  - {name: x, kind: same_tenant, actions: ['bot*']}\n",
            "rules[0].actions",
        ),
    ];
    for (yaml, field) in cases {
        match AbacPolicy::from_yaml(yaml, Some(Arc::new(FakeGeo))) {
            Err(ConfigError::Invalid { field: f, .. }) => assert_eq!(f, field, "{yaml}"),
            other => panic!("{yaml}: {other:?}"),
        }
    }
    let no_geo = AbacPolicy::from_yaml(
        "rules:\n  - {name: x, kind: countries, allow: [FR]}\n",
        None,
    );
    assert!(matches!(no_geo, Err(ConfigError::Invalid { .. })));
    assert!(matches!(
        AbacPolicy::from_yaml("rules:\n  - {name: x, kind: teleport}\n", None),
        Err(ConfigError::Yaml(_))
    ));
}

#[test]
fn policies_load_from_toml_too() {
    let p = AbacPolicy::from_toml(
        "default = \"deny\"\n[[rules]]\nname = \"tenant isolation\"\nkind = \"same_tenant\"\n",
        None,
    )
    .unwrap();
    assert!(p.evaluate(&Ask::new().request()).allowed);
}
