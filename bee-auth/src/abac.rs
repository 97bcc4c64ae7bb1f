//! Attribute-based access control: rules over principal, resource, action and context.
//!
//! Every rule is evaluated and each says allow, deny or "does not apply". Deny
//! overrides allow; when no rule applies, the policy's default decides (deny unless
//! configured otherwise). The [`Decision`] lists every rule that denied.
//!
//! Built-in rules, loaded from YAML or TOML:
//!
//! ```yaml
//! default: deny                  # when no rule applies: deny (default) or allow
//! rules:
//!   - name: tenant isolation
//!     kind: same_tenant
//!   - name: office hours
//!     kind: allowed_hours
//!     time_zone: Europe/Paris
//!     start: "08:00"             # inclusive, local time
//!     end: "18:00"               # exclusive; an end before the start wraps past midnight
//!     days: [mon, tue, wed, thu, fri]   # optional
//!     actions: ["billing:*"]     # optional: only for these actions
//!   - name: office network
//!     kind: ip_ranges
//!     allow: ["10.0.0.0/8", "2001:db8::/32"]
//!   - name: served countries
//!     kind: countries
//!     allow: [FR, BE]            # or deny: [..]; an unknown country is denied
//!   - name: live bots only
//!     kind: resource_active
//! ```
//!
//! Custom rules implement [`Rule`] and are added with [`AbacPolicy::with_rule`].

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use serde::Deserialize;

use crate::config::{self, ConfigError};
use crate::rbac::{Grant, Permission, Target};

/// Who is asking.
#[derive(Debug, Clone, Copy, Default)]
pub struct Principal<'a> {
    /// The principal's id (a key id, a user id).
    pub id: &'a str,
    /// The principal's tenant.
    pub tenant: &'a str,
    /// Other attributes, for custom rules.
    pub attributes: &'a [(&'a str, &'a str)],
}

/// What is being acted on.
#[derive(Debug, Clone, Copy, Default)]
pub struct Resource<'a> {
    /// The resource's id.
    pub id: &'a str,
    /// The tenant that owns the resource.
    pub tenant: &'a str,
    /// The principal that owns the resource, if any.
    pub owner: Option<&'a str>,
    /// Whether the resource is active (a bot that is not disabled, say).
    pub active: bool,
    /// Other attributes, for custom rules.
    pub attributes: &'a [(&'a str, &'a str)],
}

/// The circumstances of the request.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// When the request is made (from the server's clock).
    pub now: Timestamp,
    /// The client address, if known.
    pub ip: Option<IpAddr>,
    /// Other attributes, for custom rules.
    pub attributes: &'a [(&'a str, &'a str)],
}

/// One access question: may `principal` do `action` on `resource` in `context`?
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    /// Who is asking.
    pub principal: Principal<'a>,
    /// What is acted on.
    pub resource: Resource<'a>,
    /// The action, as a permission (`chat:send`).
    pub action: &'a Permission,
    /// The circumstances.
    pub context: Context<'a>,
}

/// What one rule says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleOutcome {
    /// The rule is satisfied.
    Allow,
    /// The rule is not satisfied, for this reason (no secrets or raw PII in it).
    Deny(String),
    /// The rule does not speak about this request.
    NotApplicable,
}

/// A rule of an [`AbacPolicy`].
pub trait Rule: Send + Sync {
    /// The rule's name, as it appears in decisions.
    fn name(&self) -> &str;

    /// What the rule says about `request`.
    fn evaluate(&self, request: &AccessRequest<'_>) -> RuleOutcome;
}

/// Maps a client address to an ISO 3166-1 alpha-2 country code (`FR`), for example
/// from a GeoIP database the server holds.
pub trait GeoLookup: Send + Sync {
    /// The country of `ip`, if known.
    fn country(&self, ip: IpAddr) -> Option<String>;
}

/// A rule that denied a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// The rule's name (`default` when no rule applied and the default is deny).
    pub rule: String,
    /// Why it denied.
    pub reason: String,
}

/// The outcome of an ABAC evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the request may go ahead.
    pub allowed: bool,
    /// Every rule that denied it.
    pub denials: Vec<Denial>,
}

/// What happens when no rule applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Refuse (the default: fail closed).
    #[default]
    Deny,
    /// Let the request through.
    Allow,
}

/// An ordered set of rules and a default.
pub struct AbacPolicy {
    rules: Vec<Arc<dyn Rule>>,
    default: Effect,
}

impl AbacPolicy {
    /// A policy with no rules, denying by default.
    pub fn new() -> Self {
        Self {
            rules: Vec::new(),
            default: Effect::Deny,
        }
    }

    /// Loads built-in rules from YAML. `geo` is needed when a `countries` rule is used.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the rule and field at fault.
    pub fn from_yaml(text: &str, geo: Option<Arc<dyn GeoLookup>>) -> Result<Self, ConfigError> {
        Self::from_file(config::from_yaml(text)?, geo)
    }

    /// Loads built-in rules from TOML (`default = "deny"` and `[[rules]]` tables).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the rule and field at fault.
    pub fn from_toml(text: &str, geo: Option<Arc<dyn GeoLookup>>) -> Result<Self, ConfigError> {
        Self::from_file(config::from_toml(text)?, geo)
    }

    /// Adds a rule (built-in or custom).
    pub fn with_rule(mut self, rule: Arc<dyn Rule>) -> Self {
        self.rules.push(rule);
        self
    }

    /// Sets what happens when no rule applies.
    pub fn with_default(mut self, default: Effect) -> Self {
        self.default = default;
        self
    }

    /// Evaluates every rule: denied if any rule denies, allowed if some rule allows,
    /// otherwise the default.
    pub fn evaluate(&self, request: &AccessRequest<'_>) -> Decision {
        let mut denials = Vec::new();
        let mut any_allow = false;
        for rule in &self.rules {
            match rule.evaluate(request) {
                RuleOutcome::Allow => any_allow = true,
                RuleOutcome::Deny(reason) => denials.push(Denial {
                    rule: rule.name().to_owned(),
                    reason,
                }),
                RuleOutcome::NotApplicable => {}
            }
        }
        if denials.is_empty() && !any_allow && self.default == Effect::Deny {
            denials.push(Denial {
                rule: "default".to_owned(),
                reason: "no rule applies and the default is deny".to_owned(),
            });
        }
        Decision {
            allowed: denials.is_empty(),
            denials,
        }
    }

    fn from_file(file: PolicyFile, geo: Option<Arc<dyn GeoLookup>>) -> Result<Self, ConfigError> {
        let mut policy = Self::new().with_default(file.default);
        for (i, spec) in file.rules.into_iter().enumerate() {
            policy.rules.push(spec.build(i, geo.as_ref())?);
        }
        Ok(policy)
    }
}

impl Default for AbacPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for AbacPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.rules.iter().map(|r| r.name()).collect();
        f.debug_struct("AbacPolicy")
            .field("rules", &names)
            .field("default", &self.default)
            .finish()
    }
}

/// A custom rule from a closure.
pub struct FnRule<F> {
    name: String,
    check: F,
}

impl<F> FnRule<F>
where
    F: Fn(&AccessRequest<'_>) -> RuleOutcome + Send + Sync,
{
    /// A rule named `name` that asks `check`.
    pub fn new(name: impl Into<String>, check: F) -> Self {
        Self {
            name: name.into(),
            check,
        }
    }
}

impl<F> Rule for FnRule<F>
where
    F: Fn(&AccessRequest<'_>) -> RuleOutcome + Send + Sync,
{
    fn name(&self) -> &str {
        &self.name
    }

    fn evaluate(&self, request: &AccessRequest<'_>) -> RuleOutcome {
        (self.check)(request)
    }
}

impl<F> std::fmt::Debug for FnRule<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnRule")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// Principal and resource must belong to the same (non-empty) tenant.
#[derive(Debug, Clone)]
pub struct SameTenant {
    scope: Scope,
}

impl Rule for SameTenant {
    fn name(&self) -> &str {
        &self.scope.name
    }

    fn evaluate(&self, request: &AccessRequest<'_>) -> RuleOutcome {
        self.scope.gate(request, || {
            let (p, r) = (request.principal.tenant, request.resource.tenant);
            if !p.is_empty() && p == r {
                RuleOutcome::Allow
            } else {
                RuleOutcome::Deny("principal and resource belong to different tenants".into())
            }
        })
    }
}

/// The request's local time must fall in a window, on allowed days.
#[derive(Debug, Clone)]
pub struct AllowedHours {
    scope: Scope,
    zone: TimeZone,
    zone_name: String,
    start: Time,
    end: Time,
    days: Vec<Weekday>,
}

impl Rule for AllowedHours {
    fn name(&self) -> &str {
        &self.scope.name
    }

    fn evaluate(&self, request: &AccessRequest<'_>) -> RuleOutcome {
        self.scope.gate(request, || {
            let local = request.context.now.to_zoned_datetime(self.zone.clone());
            let time = local.time();
            let in_window = if self.start < self.end {
                time >= self.start && time < self.end
            } else {
                time >= self.start || time < self.end
            };
            // A window that wraps past midnight belongs to the day it started on.
            let day = if self.start > self.end && time < self.end {
                local.weekday().previous()
            } else {
                local.weekday()
            };
            let day_ok = self.days.is_empty() || self.days.contains(&day);
            if in_window && day_ok {
                RuleOutcome::Allow
            } else {
                RuleOutcome::Deny(format!("outside allowed hours in {}", self.zone_name))
            }
        })
    }
}

/// The client address must be in one of the ranges.
#[derive(Debug, Clone)]
pub struct IpRanges {
    scope: Scope,
    allow: Vec<IpNet>,
}

impl Rule for IpRanges {
    fn name(&self) -> &str {
        &self.scope.name
    }

    fn evaluate(&self, request: &AccessRequest<'_>) -> RuleOutcome {
        self.scope.gate(request, || match request.context.ip {
            Some(ip) if self.allow.iter().any(|n| n.contains(&canonical(ip))) => RuleOutcome::Allow,
            Some(_) => RuleOutcome::Deny("client address is outside the allowed ranges".into()),
            None => RuleOutcome::Deny("client address is unknown".into()),
        })
    }
}

/// The client's country (through [`GeoLookup`]) must be allowed, or not denied. An
/// unknown country is denied either way.
pub struct Countries {
    scope: Scope,
    list: Vec<String>,
    allow_list: bool,
    geo: Arc<dyn GeoLookup>,
}

impl Rule for Countries {
    fn name(&self) -> &str {
        &self.scope.name
    }

    fn evaluate(&self, request: &AccessRequest<'_>) -> RuleOutcome {
        self.scope.gate(request, || {
            let country = request.context.ip.and_then(|ip| self.geo.country(ip));
            let Some(country) = country else {
                return RuleOutcome::Deny("client country is unknown".into());
            };
            let listed = self.list.iter().any(|c| c.eq_ignore_ascii_case(&country));
            if listed == self.allow_list {
                RuleOutcome::Allow
            } else {
                RuleOutcome::Deny(format!("requests from {country} are not allowed"))
            }
        })
    }
}

impl std::fmt::Debug for Countries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Countries")
            .field("name", &self.scope.name)
            .field("list", &self.list)
            .field("allow_list", &self.allow_list)
            .finish_non_exhaustive()
    }
}

/// The resource must be active.
#[derive(Debug, Clone)]
pub struct ResourceActive {
    scope: Scope,
}

impl Rule for ResourceActive {
    fn name(&self) -> &str {
        &self.scope.name
    }

    fn evaluate(&self, request: &AccessRequest<'_>) -> RuleOutcome {
        self.scope.gate(request, || {
            if request.resource.active {
                RuleOutcome::Allow
            } else {
                RuleOutcome::Deny("the resource is not active".into())
            }
        })
    }
}

/// A rule's name and the actions it applies to.
#[derive(Debug, Clone)]
struct Scope {
    name: String,
    actions: Vec<Grant>,
}

impl Scope {
    fn gate(
        &self,
        request: &AccessRequest<'_>,
        decide: impl FnOnce() -> RuleOutcome,
    ) -> RuleOutcome {
        let applies = self.actions.is_empty()
            || self
                .actions
                .iter()
                .any(|g| g.allows("", request.action, &Target::any()));
        if applies {
            decide()
        } else {
            RuleOutcome::NotApplicable
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    default: Effect,
    #[serde(default)]
    rules: Vec<RuleSpec>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    kind: RuleKind,
    #[serde(default)]
    actions: Vec<String>,
    time_zone: Option<String>,
    start: Option<String>,
    end: Option<String>,
    #[serde(default)]
    days: Vec<String>,
    allow: Option<Vec<String>>,
    deny: Option<Vec<String>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "snake_case")]
enum RuleKind {
    SameTenant,
    AllowedHours,
    IpRanges,
    Countries,
    ResourceActive,
}

impl RuleSpec {
    fn build(
        self,
        index: usize,
        geo: Option<&Arc<dyn GeoLookup>>,
    ) -> Result<Arc<dyn Rule>, ConfigError> {
        let field = |f: &str| format!("rules[{index}].{f}");
        if self.name.trim().is_empty() {
            return Err(ConfigError::invalid(field("name"), "must not be empty"));
        }
        let mut actions = Vec::new();
        for action in &self.actions {
            let grant = Grant::parse(action)
                .map_err(|e| ConfigError::invalid(field("actions"), e.to_string()))?;
            actions.push(grant);
        }
        self.refuse_fields_of_other_kinds(index)?;
        let scope = Scope {
            name: self.name.clone(),
            actions,
        };
        Ok(match self.kind {
            RuleKind::SameTenant => Arc::new(SameTenant { scope }),
            RuleKind::ResourceActive => Arc::new(ResourceActive { scope }),
            RuleKind::AllowedHours => Arc::new(self.allowed_hours(scope, index)?),
            RuleKind::IpRanges => Arc::new(self.ip_ranges(scope, index)?),
            RuleKind::Countries => Arc::new(self.countries(scope, index, geo)?),
        })
    }

    /// A field that the kind does not read is a mistake in the file, not a no-op.
    fn refuse_fields_of_other_kinds(&self, index: usize) -> Result<(), ConfigError> {
        let hours = self.time_zone.is_some()
            || self.start.is_some()
            || self.end.is_some()
            || !self.days.is_empty();
        let lists = self.allow.is_some() || self.deny.is_some();
        let stray = match self.kind {
            RuleKind::SameTenant | RuleKind::ResourceActive => hours || lists,
            RuleKind::AllowedHours => lists,
            RuleKind::IpRanges => hours || self.deny.is_some(),
            RuleKind::Countries => hours,
        };
        if stray {
            return Err(ConfigError::invalid(
                format!("rules[{index}]"),
                format!("has fields that a {:?} rule does not use", self.kind),
            ));
        }
        Ok(())
    }

    fn allowed_hours(&self, scope: Scope, index: usize) -> Result<AllowedHours, ConfigError> {
        let field = |f: &str| format!("rules[{index}].{f}");
        let zone_name = self
            .time_zone
            .clone()
            .ok_or_else(|| ConfigError::invalid(field("time_zone"), "is required"))?;
        let zone = jiff::tz::db()
            .get(&zone_name)
            .map_err(|e| ConfigError::invalid(field("time_zone"), e.to_string()))?;
        let start = parse_hhmm(self.start.as_deref(), &field("start"))?;
        let end = parse_hhmm(self.end.as_deref(), &field("end"))?;
        if start == end {
            return Err(ConfigError::invalid(field("end"), "must differ from start"));
        }
        let days = self
            .days
            .iter()
            .map(|d| {
                parse_weekday(d).ok_or_else(|| {
                    ConfigError::invalid(field("days"), format!("{d:?} is not mon..sun"))
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(AllowedHours {
            scope,
            zone,
            zone_name,
            start,
            end,
            days,
        })
    }

    fn ip_ranges(&self, scope: Scope, index: usize) -> Result<IpRanges, ConfigError> {
        let field = format!("rules[{index}].allow");
        let list = self
            .allow
            .as_ref()
            .filter(|l| !l.is_empty())
            .ok_or_else(|| ConfigError::invalid(field.clone(), "needs at least one range"))?;
        let allow = list
            .iter()
            .map(|n| {
                parse_net(n).ok_or_else(|| {
                    ConfigError::invalid(
                        field.clone(),
                        format!("{n:?} is not an address or CIDR range"),
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(IpRanges { scope, allow })
    }

    fn countries(
        &self,
        scope: Scope,
        index: usize,
        geo: Option<&Arc<dyn GeoLookup>>,
    ) -> Result<Countries, ConfigError> {
        let field = format!("rules[{index}]");
        let geo = geo.cloned().ok_or_else(|| {
            ConfigError::invalid(field.clone(), "a countries rule needs a GeoLookup")
        })?;
        let (list, allow_list) = match (&self.allow, &self.deny) {
            (Some(allow), None) if !allow.is_empty() => (allow.clone(), true),
            (None, Some(deny)) if !deny.is_empty() => (deny.clone(), false),
            _ => {
                return Err(ConfigError::invalid(
                    field,
                    "needs exactly one non-empty list: allow or deny",
                ));
            }
        };
        if let Some(bad) = list
            .iter()
            .find(|c| c.len() != 2 || !c.bytes().all(|b| b.is_ascii_alphabetic()))
        {
            return Err(ConfigError::invalid(
                field,
                format!("{bad:?} is not a two-letter country code"),
            ));
        }
        Ok(Countries {
            scope,
            list,
            allow_list,
            geo,
        })
    }
}

fn parse_hhmm(text: Option<&str>, field: &str) -> Result<Time, ConfigError> {
    let text = text.ok_or_else(|| ConfigError::invalid(field, "is required (HH:MM)"))?;
    let bad = || ConfigError::invalid(field, format!("{text:?} is not HH:MM"));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    Time::new(h, m, 0, 0).map_err(|_| bad())
}

fn parse_weekday(text: &str) -> Option<Weekday> {
    Some(match text.to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tuesday" => Weekday::Tuesday,
        "wed" | "wednesday" => Weekday::Wednesday,
        "thu" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

fn parse_net(text: &str) -> Option<IpNet> {
    text.parse::<IpNet>()
        .ok()
        .or_else(|| text.parse::<IpAddr>().ok().map(IpNet::from))
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}
