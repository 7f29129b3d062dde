//! Offline IAM inventories (`--iam-inventory FILE_OR_DIR`, repeatable):
//!
//! - `aws iam get-account-authorization-details` JSON (roles with trust
//!   policies, users, groups, inline and managed policies, boundaries, tags);
//! - `aws iam list-roles` JSON (`{"Roles":[...]}`, with MaxSessionDuration);
//! - `aws iam get-role` JSON (`{"Role":{...}}`);
//! - CSV `account_id,role_arn` (an optional header line is skipped).
//!
//! Which account a file describes comes from the ARNs inside it. The snapshot
//! time is `--inventory-time` when given, else the file's modification time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::document::{PolicyDocument, PolicyError};
use super::org::OrgExport;

/// Why an inventory input could not be loaded. Every variant names its file.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error("cannot read IAM inventory {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("IAM inventory {path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("IAM inventory {path}: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Org(#[from] super::org::OrgError),
}

/// A named inline policy.
#[derive(Debug, Clone)]
pub struct NamedPolicy {
    pub name: String,
    pub doc: PolicyDocument,
}

/// A managed policy (the default version's document).
#[derive(Debug, Clone)]
pub struct ManagedPolicy {
    pub arn: String,
    pub name: String,
    pub doc: PolicyDocument,
}

/// A role as the inventory describes it.
#[derive(Debug, Clone, Default)]
pub struct Role {
    pub arn: String,
    pub name: String,
    pub path: String,
    pub role_id: Option<String>,
    /// `None` when the input does not carry it (CSV) or it could not be read.
    pub trust: Option<PolicyDocument>,
    pub inline: Vec<NamedPolicy>,
    /// `(name, arn)` of attached managed policies.
    pub attached: Vec<(String, String)>,
    pub boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub max_session_duration: Option<i64>,
    /// Inline/attached policies and boundary are known (authorization details).
    pub details: bool,
    pub source: String,
}

/// A user as the inventory describes it.
#[derive(Debug, Clone, Default)]
pub struct User {
    pub arn: String,
    pub name: String,
    pub user_id: Option<String>,
    pub inline: Vec<NamedPolicy>,
    pub attached: Vec<(String, String)>,
    pub groups: Vec<String>,
    pub boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub source: String,
}

/// A group.
#[derive(Debug, Clone, Default)]
pub struct Group {
    pub name: String,
    pub arn: String,
    pub inline: Vec<NamedPolicy>,
    pub attached: Vec<(String, String)>,
}

/// What the inventory knows about one account.
#[derive(Debug, Clone, Default)]
pub struct AccountInventory {
    pub account: String,
    /// Roles by ARN.
    pub roles: BTreeMap<String, Role>,
    /// The role list is a complete listing (a missing role is missing).
    pub roles_complete: bool,
    /// Users by ARN.
    pub users: BTreeMap<String, User>,
    /// Groups by name.
    pub groups: BTreeMap<String, Group>,
    /// Users and groups were listed (authorization details with users).
    pub users_complete: bool,
    /// Latest snapshot time of the files describing this account (epoch ms).
    pub snapshot_ms: Option<i64>,
    /// Files that describe this account.
    pub sources: Vec<String>,
}

/// Where a role name lookup ended.
#[derive(Debug, Clone)]
pub enum RoleLookup<'a> {
    Found(&'a Role),
    /// The account's role list is complete and this ARN is not in it.
    /// `similar` holds `(arn, why)` of near matches (case, path, typo).
    Missing {
        similar: Vec<(String, &'static str)>,
    },
    /// The inventory does not list this account's roles (completely).
    NotCovered,
}

/// Everything loaded from `--iam-inventory` and `--org-policies`.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    pub accounts: BTreeMap<String, AccountInventory>,
    /// Managed policies by ARN (customer and AWS managed).
    pub managed: BTreeMap<String, ManagedPolicy>,
    pub org: Option<OrgExport>,
    /// Problems that did not stop loading (an unreadable policy document):
    /// each names its file.
    pub warnings: Vec<String>,
}

/// Levenshtein distance (chars).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Account id of an IAM ARN (`None` for `aws` managed policies).
fn arn_account(arn: &str) -> Option<&str> {
    let acct = arn.split(':').nth(4)?;
    (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then_some(acct)
}

fn role_name_of(arn: &str) -> Option<(&str, &str)> {
    let res = arn.splitn(6, ':').nth(5)?;
    let rest = res.strip_prefix("role/")?;
    match rest.rfind('/') {
        Some(i) => Some((&rest[..=i], &rest[i + 1..])),
        None => Some(("", rest)),
    }
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

fn tags_of(v: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(a) = v.get("Tags").and_then(Value::as_array) {
        for t in a {
            if let (Some(k), Some(val)) = (str_of(t, "Key"), t.get("Value").and_then(Value::as_str))
            {
                out.insert(k.to_string(), val.to_string());
            }
        }
    }
    out
}

fn attached_of(v: &Value) -> Vec<(String, String)> {
    v.get("AttachedManagedPolicies")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| {
                    Some((
                        str_of(p, "PolicyName").unwrap_or("").to_string(),
                        str_of(p, "PolicyArn")?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn boundary_of(v: &Value) -> Option<String> {
    v.get("PermissionsBoundary")
        .and_then(|b| str_of(b, "PermissionsBoundaryArn"))
        .map(str::to_string)
}

fn file_time_ms(path: &Path) -> Option<i64> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    let d = m.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(d.as_millis()).ok()
}

impl Inventory {
    /// Load every `--iam-inventory` path (files, or directories walked for
    /// `.json` and `.csv`) and the optional `--org-policies` directory.
    /// `inventory_time_ms` overrides the file modification times.
    pub fn load(
        paths: &[PathBuf],
        org_dir: Option<&Path>,
        inventory_time_ms: Option<i64>,
    ) -> Result<Inventory, InventoryError> {
        let mut inv = Inventory::default();
        for p in paths {
            let meta = std::fs::metadata(p).map_err(|source| InventoryError::Io {
                path: p.clone(),
                source,
            })?;
            if meta.is_dir() {
                let mut files = Vec::new();
                collect_files(p, &mut files)?;
                for f in files {
                    inv.load_file(&f, inventory_time_ms)?;
                }
            } else {
                inv.load_file(p, inventory_time_ms)?;
            }
        }
        if let Some(d) = org_dir {
            inv.org = Some(OrgExport::load(d)?);
        }
        Ok(inv)
    }

    /// Load one file, detecting its shape.
    pub fn load_file(
        &mut self,
        path: &Path,
        inventory_time_ms: Option<i64>,
    ) -> Result<(), InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let snapshot = inventory_time_ms.or_else(|| file_time_ms(path));
        let name = path.display().to_string();
        let is_csv = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        if is_csv {
            return self.load_csv(path, &name, &text, snapshot);
        }
        let v: Value = serde_json::from_str(&text).map_err(|source| InventoryError::Json {
            path: path.to_path_buf(),
            source,
        })?;
        let details = [
            "RoleDetailList",
            "UserDetailList",
            "GroupDetailList",
            "Policies",
        ]
        .iter()
        .any(|k| v.get(k).is_some());
        if details {
            self.load_details(path, &name, &v, snapshot)
        } else if let Some(roles) = v.get("Roles").and_then(Value::as_array) {
            self.load_role_list(path, &name, roles, true, snapshot)
        } else if let Some(role) = v.get("Role").filter(|r| r.is_object()) {
            self.load_role_list(path, &name, std::slice::from_ref(role), false, snapshot)
        } else {
            Err(InventoryError::Format {
                path: path.to_path_buf(),
                reason: "not get-account-authorization-details (RoleDetailList/UserDetailList/GroupDetailList/Policies), list-roles ({\"Roles\":[...]}) or get-role ({\"Role\":{...}}) output".into(),
            })
        }
    }

    fn account_mut(
        &mut self,
        acct: &str,
        name: &str,
        snapshot: Option<i64>,
    ) -> &mut AccountInventory {
        let a = self
            .accounts
            .entry(acct.to_string())
            .or_insert_with(|| AccountInventory {
                account: acct.to_string(),
                ..AccountInventory::default()
            });
        if !a.sources.iter().any(|s| s == name) {
            a.sources.push(name.to_string());
        }
        a.snapshot_ms = match (a.snapshot_ms, snapshot) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        };
        a
    }

    fn doc(&mut self, v: Option<&Value>, location: String) -> Option<PolicyDocument> {
        let v = v?;
        match PolicyDocument::from_value(v, &location) {
            Ok(d) => Some(d),
            Err(e) => {
                self.warnings.push(e.to_string());
                None
            }
        }
    }

    fn inline_list(
        &mut self,
        v: &Value,
        list_key: &str,
        name: &str,
        owner: &str,
    ) -> Vec<NamedPolicy> {
        let mut out = Vec::new();
        if let Some(a) = v.get(list_key).and_then(Value::as_array) {
            for p in a {
                let pname = str_of(p, "PolicyName").unwrap_or("(unnamed)").to_string();
                if let Some(doc) = self.doc(
                    p.get("PolicyDocument"),
                    format!("{name}: {owner} inline policy {pname}"),
                ) {
                    out.push(NamedPolicy { name: pname, doc });
                }
            }
        }
        out
    }

    fn load_details(
        &mut self,
        path: &Path,
        name: &str,
        v: &Value,
        snapshot: Option<i64>,
    ) -> Result<(), InventoryError> {
        let truncated = v.get("IsTruncated").and_then(Value::as_bool) == Some(true);
        if truncated {
            self.warnings.push(format!(
                "{name}: IsTruncated is true (a page of a paginated listing): absent roles and users there are not read as missing"
            ));
        }
        let mut seen_accounts: Vec<String> = Vec::new();
        if let Some(roles) = v.get("RoleDetailList").and_then(Value::as_array) {
            for r in roles {
                let Some(arn) = str_of(r, "Arn") else {
                    return Err(InventoryError::Format {
                        path: path.to_path_buf(),
                        reason: "a RoleDetailList entry has no Arn".into(),
                    });
                };
                let Some(acct) = arn_account(arn).map(str::to_string) else {
                    return Err(InventoryError::Format {
                        path: path.to_path_buf(),
                        reason: format!("role ARN {arn:?} has no 12-digit account id"),
                    });
                };
                let mut role = self.role_from(r, arn, name);
                role.details = true;
                role.inline =
                    self.inline_list(r, "RolePolicyList", name, &format!("role {}", role.name));
                role.attached = attached_of(r);
                role.boundary = boundary_of(r);
                let a = self.account_mut(&acct, name, snapshot);
                merge_role(a, role);
                if !seen_accounts.contains(&acct) {
                    seen_accounts.push(acct);
                }
            }
        }
        let roles_listed = v.get("RoleDetailList").is_some_and(Value::is_array) && !truncated;
        if let Some(groups) = v.get("GroupDetailList").and_then(Value::as_array) {
            for g in groups {
                let (Some(arn), Some(gname)) = (str_of(g, "Arn"), str_of(g, "GroupName")) else {
                    continue;
                };
                let Some(acct) = arn_account(arn).map(str::to_string) else {
                    continue;
                };
                let group = Group {
                    name: gname.to_string(),
                    arn: arn.to_string(),
                    inline: self.inline_list(g, "GroupPolicyList", name, &format!("group {gname}")),
                    attached: attached_of(g),
                };
                self.account_mut(&acct, name, snapshot)
                    .groups
                    .insert(gname.to_string(), group);
            }
        }
        let users_listed = v.get("UserDetailList").is_some_and(Value::is_array) && !truncated;
        if let Some(users) = v.get("UserDetailList").and_then(Value::as_array) {
            for u in users {
                let Some(arn) = str_of(u, "Arn") else {
                    continue;
                };
                let Some(acct) = arn_account(arn).map(str::to_string) else {
                    continue;
                };
                let uname = str_of(u, "UserName").unwrap_or("").to_string();
                let user = User {
                    arn: arn.to_string(),
                    name: uname.clone(),
                    user_id: str_of(u, "UserId").map(str::to_string),
                    inline: self.inline_list(u, "UserPolicyList", name, &format!("user {uname}")),
                    attached: attached_of(u),
                    groups: u
                        .get("GroupList")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(Value::as_str)
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                    boundary: boundary_of(u),
                    tags: tags_of(u),
                    source: name.to_string(),
                };
                self.account_mut(&acct, name, snapshot)
                    .users
                    .insert(arn.to_string(), user);
                if !seen_accounts.contains(&acct) {
                    seen_accounts.push(acct);
                }
            }
        }
        if let Some(pols) = v.get("Policies").and_then(Value::as_array) {
            for p in pols {
                let Some(arn) = str_of(p, "Arn") else {
                    continue;
                };
                let pname = str_of(p, "PolicyName").unwrap_or("").to_string();
                let default_id = str_of(p, "DefaultVersionId");
                let versions = p.get("PolicyVersionList").and_then(Value::as_array);
                let ver = versions.and_then(|vs| {
                    vs.iter()
                        .find(|x| x.get("IsDefaultVersion").and_then(Value::as_bool) == Some(true))
                        .or_else(|| {
                            vs.iter().find(|x| {
                                default_id.is_some() && str_of(x, "VersionId") == default_id
                            })
                        })
                });
                let Some(ver) = ver else {
                    self.warnings.push(format!(
                        "{name}: managed policy {arn} has no default version document"
                    ));
                    continue;
                };
                if let Some(doc) = self.doc(
                    ver.get("Document"),
                    format!("{name}: managed policy {pname}"),
                ) {
                    self.managed.insert(
                        arn.to_string(),
                        ManagedPolicy {
                            arn: arn.to_string(),
                            name: pname,
                            doc,
                        },
                    );
                }
                if let Some(acct) = arn_account(arn) {
                    self.account_mut(acct, name, snapshot);
                }
            }
        }
        // The account(s) this file describes come from the ARNs in it. A
        // listing that names roles (users) of an account lists all of them.
        for acct in &seen_accounts {
            if let Some(a) = self.accounts.get_mut(acct) {
                a.roles_complete |= roles_listed;
                a.users_complete |= users_listed;
            }
        }
        if seen_accounts.is_empty() && v.get("RoleDetailList").is_some() {
            self.warnings.push(format!(
                "{name}: holds no role or user ARN, so the account it describes is unknown; it is not used to say a role is missing"
            ));
        }
        Ok(())
    }

    fn role_from(&mut self, r: &Value, arn: &str, name: &str) -> Role {
        let (path, rname) = role_name_of(arn).unwrap_or(("", ""));
        let rname = str_of(r, "RoleName").unwrap_or(rname).to_string();
        let trust = self.doc(
            r.get("AssumeRolePolicyDocument"),
            format!("{name}: role {rname} trust policy"),
        );
        Role {
            arn: arn.to_string(),
            name: rname,
            path: str_of(r, "Path")
                .map(str::to_string)
                .unwrap_or_else(|| format!("/{path}")),
            role_id: str_of(r, "RoleId").map(str::to_string),
            trust,
            tags: tags_of(r),
            max_session_duration: r.get("MaxSessionDuration").and_then(Value::as_i64),
            source: name.to_string(),
            ..Role::default()
        }
    }

    fn load_role_list(
        &mut self,
        path: &Path,
        name: &str,
        roles: &[Value],
        complete: bool,
        snapshot: Option<i64>,
    ) -> Result<(), InventoryError> {
        let mut seen: Vec<String> = Vec::new();
        for r in roles {
            let Some(arn) = str_of(r, "Arn") else {
                return Err(InventoryError::Format {
                    path: path.to_path_buf(),
                    reason: "a role entry has no Arn".into(),
                });
            };
            let Some(acct) = arn_account(arn).map(str::to_string) else {
                return Err(InventoryError::Format {
                    path: path.to_path_buf(),
                    reason: format!("role ARN {arn:?} has no 12-digit account id"),
                });
            };
            let role = self.role_from(r, arn, name);
            merge_role(self.account_mut(&acct, name, snapshot), role);
            if !seen.contains(&acct) {
                seen.push(acct);
            }
        }
        if complete {
            for a in &seen {
                if let Some(x) = self.accounts.get_mut(a) {
                    x.roles_complete = true;
                }
            }
        }
        Ok(())
    }

    fn load_csv(
        &mut self,
        path: &Path,
        name: &str,
        text: &str,
        snapshot: Option<i64>,
    ) -> Result<(), InventoryError> {
        let mut seen: Vec<String> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut cols = line.split(',').map(|c| c.trim().trim_matches('"'));
            let (Some(acct), Some(arn)) = (cols.next(), cols.next()) else {
                return Err(InventoryError::Format {
                    path: path.to_path_buf(),
                    reason: format!("line {}: expected account_id,role_arn", i + 1),
                });
            };
            if i == 0 && !acct.bytes().all(|b| b.is_ascii_digit()) {
                continue; // header
            }
            let arn_acct = arn_account(arn);
            if arn_acct != Some(acct) || role_name_of(arn).is_none() {
                return Err(InventoryError::Format {
                    path: path.to_path_buf(),
                    reason: format!(
                        "line {}: {arn:?} is not a role ARN in account {acct:?}",
                        i + 1
                    ),
                });
            }
            let (p, rname) = role_name_of(arn).unwrap_or(("", ""));
            let role = Role {
                arn: arn.to_string(),
                name: rname.to_string(),
                path: format!("/{p}"),
                source: name.to_string(),
                ..Role::default()
            };
            merge_role(self.account_mut(acct, name, snapshot), role);
            if !seen.iter().any(|s| s == acct) {
                seen.push(acct.to_string());
            }
        }
        for a in &seen {
            if let Some(x) = self.accounts.get_mut(a) {
                x.roles_complete = true;
            }
        }
        Ok(())
    }

    /// Find a role by ARN (case-sensitive, path included).
    pub fn role(&self, arn: &str) -> RoleLookup<'_> {
        let Some(acct) = arn_account(arn) else {
            return RoleLookup::NotCovered;
        };
        let Some(a) = self.accounts.get(acct) else {
            return RoleLookup::NotCovered;
        };
        if let Some(r) = a.roles.get(arn) {
            return RoleLookup::Found(r);
        }
        if !a.roles_complete {
            return RoleLookup::NotCovered;
        }
        let mut similar = Vec::new();
        if let Some((_, want)) = role_name_of(arn) {
            for r in a.roles.values() {
                let why = if r.name == want {
                    Some("same name, different path")
                } else if r.name.eq_ignore_ascii_case(want) {
                    Some(
                        "same name in different case (role names are case-sensitive when assuming)",
                    )
                } else if levenshtein(&r.name.to_lowercase(), &want.to_lowercase()) <= 2 {
                    Some("name within 2 edits (typo?)")
                } else {
                    None
                };
                if let Some(w) = why {
                    similar.push((r.arn.clone(), w));
                }
            }
        }
        RoleLookup::Missing { similar }
    }

    /// A role by account and name (for a session's role when its path is unknown).
    pub fn role_by_name(&self, account: &str, name: &str) -> Option<&Role> {
        self.accounts
            .get(account)?
            .roles
            .values()
            .find(|r| r.name == name)
    }

    /// A user by ARN, or by account and name.
    pub fn user(&self, arn: &str) -> Option<&User> {
        let a = self.accounts.get(arn_account(arn)?)?;
        if let Some(u) = a.users.get(arn) {
            return Some(u);
        }
        let name = arn.rsplit('/').next()?;
        a.users.values().find(|u| u.name == name)
    }

    /// The snapshot time of the inventory for an account.
    pub fn snapshot_ms(&self, account: &str) -> Option<i64> {
        self.accounts.get(account)?.snapshot_ms
    }
}

fn merge_role(a: &mut AccountInventory, role: Role) {
    match a.roles.get_mut(&role.arn) {
        None => {
            a.roles.insert(role.arn.clone(), role);
        }
        Some(old) => {
            if role.trust.is_some() && (old.trust.is_none() || role.details) {
                old.trust = role.trust;
            }
            if role.details {
                old.inline = role.inline;
                old.attached = role.attached;
                old.boundary = role.boundary;
                old.details = true;
            }
            if !role.tags.is_empty() {
                old.tags = role.tags;
            }
            if role.max_session_duration.is_some() {
                old.max_session_duration = role.max_session_duration;
            }
            if old.role_id.is_none() {
                old.role_id = role.role_id;
            }
        }
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), InventoryError> {
    let rd = std::fs::read_dir(dir).map_err(|source| InventoryError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut entries = Vec::new();
    for e in rd {
        let e = e.map_err(|source| InventoryError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        entries.push(e.path());
    }
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect_files(&p, out)?;
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("json") || e.eq_ignore_ascii_case("csv"))
        {
            out.push(p);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance() {
        assert_eq!(levenshtein("Deploy", "Deploy"), 0);
        assert_eq!(levenshtein("Deploy", "Deplyo"), 2);
        assert_eq!(levenshtein("Deploy", "Deployer"), 2);
        assert_eq!(levenshtein("", "abc"), 3);
    }

    #[test]
    fn role_paths() {
        assert_eq!(
            role_name_of("arn:aws:iam::111122223333:role/a/b/R"),
            Some(("a/b/", "R"))
        );
        assert_eq!(
            role_name_of("arn:aws:iam::111122223333:role/R"),
            Some(("", "R"))
        );
        assert_eq!(
            arn_account("arn:aws:iam::aws:policy/AdministratorAccess"),
            None
        );
    }
}
