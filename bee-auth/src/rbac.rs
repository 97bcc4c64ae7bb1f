//! Role-based access control with segment-wise wildcards and ownership qualifiers.
//!
//! A permission is `resource:action`, such as `chat:send`. A grant is a pattern
//! `resource:action[:qualifier]`:
//!
//! - `*` stands for exactly one whole segment (`bot:*` grants `bot:create` but not
//!   `bot_admin:read`), and `*` alone grants everything;
//! - a qualifier restricts the grant to some resources: `own` to resources the
//!   principal owns, any other word (such as `public`) to resources carrying that
//!   label, `*` to every resource (the same as no qualifier);
//! - a malformed grant grants nothing.
//!
//! Segments are 1 to 64 characters of `[a-z0-9_]`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::Deserialize;

use crate::config::{self, ConfigError};

/// The longest segment accepted.
const MAX_SEGMENT_LEN: usize = 64;

/// Why a permission or a grant cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RbacError {
    /// A permission is not `resource:action` with segments of `[a-z0-9_]`.
    #[error("a permission is resource:action with segments of a-z, 0-9 and _: {0:?}")]
    Permission(String),
    /// A grant is not `*` or `resource:action[:qualifier]` with segments of `[a-z0-9_]`
    /// or `*`.
    #[error("a grant is * or resource:action[:qualifier] with whole-segment wildcards: {0:?}")]
    Grant(String),
}

/// A concrete permission asked for: `resource:action`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Permission {
    resource: Box<str>,
    action: Box<str>,
}

impl Permission {
    /// Reads `resource:action`.
    ///
    /// # Errors
    ///
    /// [`RbacError::Permission`] unless there are exactly two well-formed segments.
    pub fn parse(text: &str) -> Result<Self, RbacError> {
        let bad = || RbacError::Permission(shorten(text));
        let (resource, action) = text.split_once(':').ok_or_else(bad)?;
        if !is_segment(resource) || !is_segment(action) {
            return Err(bad());
        }
        Ok(Self {
            resource: resource.into(),
            action: action.into(),
        })
    }

    /// The resource segment.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The action segment.
    pub fn action(&self) -> &str {
        &self.action
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.resource, self.action)
    }
}

/// What a permission is checked against: who owns the resource and which labels it
/// carries (such as `public`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    /// The principal that owns the resource, if any.
    pub owner: Option<&'a str>,
    /// Labels the resource carries; a grant qualified `public` needs label `public`.
    pub labels: &'a [&'a str],
}

impl<'a> Target<'a> {
    /// A resource with no owner and no labels: only unqualified grants apply.
    pub fn any() -> Self {
        Self::default()
    }

    /// A resource owned by `owner`.
    pub fn owned_by(owner: &'a str) -> Self {
        Self {
            owner: Some(owner),
            labels: &[],
        }
    }

    /// The same target carrying `labels`.
    pub fn with_labels(self, labels: &'a [&'a str]) -> Self {
        Self { labels, ..self }
    }
}

/// One grant, parsed: `*` or `resource:action[:qualifier]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    resource: Segment,
    action: Segment,
    qualifier: Qualifier,
    text: Box<str>,
}

impl Grant {
    /// Reads a grant.
    ///
    /// # Errors
    ///
    /// [`RbacError::Grant`] when it is malformed: empty, one segment other than `*`,
    /// more than three segments, an empty segment, a partial wildcard (`bot*`) or a
    /// character outside `[a-z0-9_]`.
    pub fn parse(text: &str) -> Result<Self, RbacError> {
        let bad = || RbacError::Grant(shorten(text));
        if text == "*" {
            return Ok(Self {
                resource: Segment::Any,
                action: Segment::Any,
                qualifier: Qualifier::None,
                text: text.into(),
            });
        }
        let mut parts = text.split(':');
        let resource = parts.next().and_then(Segment::parse).ok_or_else(bad)?;
        let action = parts.next().and_then(Segment::parse).ok_or_else(bad)?;
        let qualifier = match parts.next() {
            None => Qualifier::None,
            Some(q) => Qualifier::parse(q).ok_or_else(bad)?,
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self {
            resource,
            action,
            qualifier,
            text: text.into(),
        })
    }

    /// Whether this grant lets `principal` do `permission` on `target`.
    pub fn allows(&self, principal: &str, permission: &Permission, target: &Target<'_>) -> bool {
        self.resource.matches(&permission.resource)
            && self.action.matches(&permission.action)
            && self.qualifier.holds(principal, target)
    }

    /// The grant as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A set of grants compiled for fast checks: grants are indexed by resource.
#[derive(Debug, Clone, Default)]
pub struct GrantSet {
    everything: bool,
    by_resource: HashMap<Box<str>, Vec<Grant>>,
    any_resource: Vec<Grant>,
    malformed: Vec<String>,
}

impl GrantSet {
    /// Compiles grants, refusing any malformed one.
    ///
    /// # Errors
    ///
    /// [`RbacError::Grant`] for the first malformed grant.
    pub fn parse<I, S>(grants: I) -> Result<Self, RbacError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = Self::default();
        for grant in grants {
            set.add(Grant::parse(grant.as_ref())?);
        }
        Ok(set)
    }

    /// Compiles grants read from storage, where a malformed one must not stop the
    /// others: it is kept aside (see [`malformed`](Self::malformed)) and grants nothing.
    pub fn lenient<I, S>(grants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = Self::default();
        for grant in grants {
            match Grant::parse(grant.as_ref()) {
                Ok(parsed) => set.add(parsed),
                Err(_) => set.malformed.push(shorten(grant.as_ref())),
            }
        }
        set
    }

    /// Adds one grant.
    pub fn add(&mut self, grant: Grant) {
        match (&grant.resource, &grant.action, &grant.qualifier) {
            (Segment::Any, Segment::Any, Qualifier::None | Qualifier::Any) => {
                self.everything = true;
            }
            (Segment::Any, _, _) => self.any_resource.push(grant),
            (Segment::Exact(resource), _, _) => {
                let resource = resource.clone();
                self.by_resource.entry(resource).or_default().push(grant);
            }
        }
    }

    /// Adds every grant of `other`.
    pub fn extend(&mut self, other: &GrantSet) {
        self.everything |= other.everything;
        for (resource, grants) in &other.by_resource {
            let entry = self.by_resource.entry(resource.clone()).or_default();
            entry.extend(grants.iter().cloned());
        }
        self.any_resource.extend(other.any_resource.iter().cloned());
        self.malformed.extend(other.malformed.iter().cloned());
    }

    /// Whether some grant lets `principal` do `permission` on `target`.
    pub fn allows(&self, principal: &str, permission: &Permission, target: &Target<'_>) -> bool {
        if self.everything {
            return true;
        }
        let check = |g: &Grant| g.allows(principal, permission, target);
        self.by_resource
            .get(&permission.resource)
            .is_some_and(|grants| grants.iter().any(check))
            || self.any_resource.iter().any(check)
    }

    /// Grants that were malformed and therefore grant nothing (lenient sets only).
    pub fn malformed(&self) -> &[String] {
        &self.malformed
    }

    /// Whether the set grants nothing at all.
    pub fn is_empty(&self) -> bool {
        !self.everything && self.by_resource.is_empty() && self.any_resource.is_empty()
    }
}

/// Named roles and their grants.
///
/// [`Roles::default`] holds the default roles (`bot_user`, `bot_admin`, `tenant_admin`,
/// `super_admin`), loaded from the YAML shipped with the crate; a deployment replaces
/// them with its own file in the same shape:
///
/// ```yaml
/// roles:
///   bot_user: [chat:send, chat:history:own, bot:info:public]
///   super_admin: ["*"]
/// ```
#[derive(Debug, Clone)]
pub struct Roles {
    roles: BTreeMap<String, GrantSet>,
}

/// The default roles, as YAML.
pub const DEFAULT_ROLES_YAML: &str = include_str!("roles.yaml");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    roles: BTreeMap<String, Vec<String>>,
}

impl Roles {
    /// Loads roles from YAML, refusing malformed grants and role names.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the role at fault.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        Self::from_file(config::from_yaml(text)?)
    }

    /// Loads roles from TOML (a `[roles]` table of arrays), refusing malformed grants.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the role at fault.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        Self::from_file(config::from_toml(text)?)
    }

    /// The grants of `role`, if it exists.
    pub fn grants(&self, role: &str) -> Option<&GrantSet> {
        self.roles.get(role)
    }

    /// The role names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.roles.keys().map(String::as_str)
    }

    /// Whether any of `roles` lets `principal` do `permission` on `target`. Unknown
    /// role names grant nothing.
    pub fn allows<S: AsRef<str>>(
        &self,
        roles: &[S],
        principal: &str,
        permission: &Permission,
        target: &Target<'_>,
    ) -> bool {
        roles.iter().any(|role| {
            self.roles
                .get(role.as_ref())
                .is_some_and(|set| set.allows(principal, permission, target))
        })
    }

    /// The grants of all of `roles` in one set, to check many permissions quickly.
    pub fn merged<S: AsRef<str>>(&self, roles: &[S]) -> GrantSet {
        let mut set = GrantSet::default();
        for grants in roles.iter().filter_map(|r| self.roles.get(r.as_ref())) {
            set.extend(grants);
        }
        set
    }

    fn from_file(file: RolesFile) -> Result<Self, ConfigError> {
        if file.roles.is_empty() {
            return Err(ConfigError::invalid("roles", "at least one role is needed"));
        }
        let mut roles = BTreeMap::new();
        for (name, grants) in file.roles {
            let field = format!("roles.{name}");
            if !is_segment(&name) {
                return Err(ConfigError::invalid(
                    field,
                    "a role name is 1 to 64 of a-z, 0-9, _",
                ));
            }
            let set = GrantSet::parse(&grants)
                .map_err(|e| ConfigError::invalid(field.clone(), e.to_string()))?;
            if set.is_empty() {
                return Err(ConfigError::invalid(
                    field,
                    "a role needs at least one grant",
                ));
            }
            roles.insert(name, set);
        }
        Ok(Self { roles })
    }
}

impl Default for Roles {
    fn default() -> Self {
        // The shipped YAML is checked by a test; should it ever fail, no role exists,
        // which grants nothing.
        Self::from_yaml(DEFAULT_ROLES_YAML).unwrap_or(Self {
            roles: BTreeMap::new(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Any,
    Exact(Box<str>),
}

impl Segment {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "*" => Some(Segment::Any),
            _ if is_segment(text) => Some(Segment::Exact(text.into())),
            _ => None,
        }
    }

    fn matches(&self, segment: &str) -> bool {
        match self {
            Segment::Any => true,
            Segment::Exact(own) => **own == *segment,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Qualifier {
    None,
    Any,
    Own,
    Label(Box<str>),
}

impl Qualifier {
    fn parse(text: &str) -> Option<Self> {
        match text {
            "*" => Some(Qualifier::Any),
            "own" => Some(Qualifier::Own),
            _ if is_segment(text) => Some(Qualifier::Label(text.into())),
            _ => None,
        }
    }

    fn holds(&self, principal: &str, target: &Target<'_>) -> bool {
        match self {
            Qualifier::None | Qualifier::Any => true,
            // An empty principal id owns nothing, even a resource with an empty owner.
            Qualifier::Own => !principal.is_empty() && target.owner == Some(principal),
            Qualifier::Label(label) => target.labels.iter().any(|l| **label == **l),
        }
    }
}

fn is_segment(text: &str) -> bool {
    (1..=MAX_SEGMENT_LEN).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Error messages quote at most 80 characters of the input.
fn shorten(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_default_roles_load() {
        let roles = Roles::from_yaml(DEFAULT_ROLES_YAML).unwrap();
        let names: Vec<&str> = roles.names().collect();
        assert_eq!(
            names,
            ["bot_admin", "bot_user", "super_admin", "tenant_admin"]
        );
    }
}
