//! An AWS Organizations export (`--org-policies DIR`):
//!
//! - `<policy-id>.json`: `aws organizations describe-policy --policy-id <id>`;
//! - `<policy-id>.targets.json`: `aws organizations list-targets-for-policy --policy-id <id>`;
//! - `accounts.json`: `aws organizations list-accounts`;
//! - optional `parents/<account-or-ou-id>.json`: `aws organizations list-parents --child-id <id>`.
//!
//! A policy attached to the root applies to every account of the
//! organization; one attached to an OU applies to the accounts under it, which
//! only the `parents/` tree can say: without it an OU target is "unknown",
//! never "applies". SCPs never apply to the management account; RCPs do not
//! apply there either, and never restrict service-linked roles.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::document::PolicyDocument;

/// Why an Organizations export could not be loaded. Every variant names its file.
#[derive(Debug, thiserror::Error)]
pub enum OrgError {
    #[error("cannot read Organizations export {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("Organizations export {path} is not valid JSON: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("Organizations export {path}: {reason}")]
    Format { path: PathBuf, reason: String },
}

/// SCP or RCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgPolicyKind {
    Scp,
    Rcp,
}

impl OrgPolicyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgPolicyKind::Scp => "SCP",
            OrgPolicyKind::Rcp => "RCP",
        }
    }
}

/// A policy target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub id: String,
    /// ACCOUNT, ORGANIZATIONAL_UNIT or ROOT.
    pub kind: String,
    pub name: Option<String>,
}

/// One SCP or RCP.
#[derive(Debug, Clone)]
pub struct OrgPolicy {
    pub id: String,
    pub name: String,
    pub kind: OrgPolicyKind,
    pub doc: PolicyDocument,
    /// `None` when no targets file was exported.
    pub targets: Option<Vec<Target>>,
    pub source: String,
}

/// The export.
#[derive(Debug, Clone, Default)]
pub struct OrgExport {
    pub dir: String,
    pub org_id: Option<String>,
    pub management_account: Option<String>,
    /// Member accounts (from accounts.json); empty when not exported.
    pub accounts: BTreeSet<String>,
    pub accounts_listed: bool,
    /// child id -> parent id (from parents/).
    pub parents: BTreeMap<String, String>,
    pub policies: Vec<OrgPolicy>,
}

/// Whether a policy applies to an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applies {
    /// Yes, through this target (`account 111122223333`, `OU ou-...`, `root r-...`).
    Yes(String),
    No,
    /// Cannot tell (why).
    Unknown(String),
}

/// The org policies of one kind that bear on one account.
#[derive(Debug, Clone, Default)]
pub struct ApplicableSet<'a> {
    /// Policies that apply, with the target that makes them apply.
    pub applies: Vec<(&'a OrgPolicy, String)>,
    /// Policies that might apply.
    pub unknown: Vec<(&'a OrgPolicy, String)>,
    /// Levels of the hierarchy (root, OUs, account) when all are known:
    /// SCPs must allow at every level.
    pub levels: Option<Vec<String>>,
    /// Why no org policy of this kind applies (management account, not a member).
    pub exempt: Option<String>,
}

fn read_json(path: &Path) -> Result<Value, OrgError> {
    let text = std::fs::read_to_string(path).map_err(|source| OrgError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| OrgError::Json {
        path: path.to_path_buf(),
        source,
    })
}

fn str_of<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `(management account, org id)` from an Organizations ARN
/// (`arn:aws:organizations::<mgmt>:account/o-xxx/<id>` or `.../policy/o-xxx/...`).
fn org_of_arn(arn: &str) -> Option<(String, String)> {
    let mut it = arn.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    let _p = it.next()?;
    if it.next()? != "organizations" {
        return None;
    }
    let _r = it.next()?;
    let mgmt = it.next()?;
    let res = it.next()?;
    let org = res.split('/').nth(1)?;
    (org.starts_with("o-") && !mgmt.is_empty()).then(|| (mgmt.to_string(), org.to_string()))
}

impl OrgExport {
    /// Load an export directory.
    pub fn load(dir: &Path) -> Result<OrgExport, OrgError> {
        let mut ex = OrgExport {
            dir: dir.display().to_string(),
            ..OrgExport::default()
        };
        let rd = std::fs::read_dir(dir).map_err(|source| OrgError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut files: Vec<PathBuf> = Vec::new();
        for e in rd {
            let e = e.map_err(|source| OrgError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            files.push(e.path());
        }
        files.sort();
        let mut targets: BTreeMap<String, Vec<Target>> = BTreeMap::new();
        let mut policy_files = Vec::new();
        for f in &files {
            let Some(fname) = f.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if f.is_dir() || !fname.ends_with(".json") {
                continue;
            }
            if fname == "accounts.json" {
                let v = read_json(f)?;
                let Some(list) = v.get("Accounts").and_then(Value::as_array) else {
                    return Err(OrgError::Format {
                        path: f.clone(),
                        reason:
                            "no Accounts array (expected `aws organizations list-accounts` output)"
                                .into(),
                    });
                };
                ex.accounts_listed = true;
                for a in list {
                    if let Some(id) = str_of(a, "Id") {
                        ex.accounts.insert(id.to_string());
                    }
                    if let Some((mgmt, org)) = str_of(a, "Arn").and_then(org_of_arn) {
                        ex.management_account.get_or_insert(mgmt);
                        ex.org_id.get_or_insert(org);
                    }
                }
            } else if let Some(id) = fname.strip_suffix(".targets.json") {
                let v = read_json(f)?;
                let Some(list) = v.get("Targets").and_then(Value::as_array) else {
                    return Err(OrgError::Format {
                        path: f.clone(),
                        reason: "no Targets array (expected `aws organizations list-targets-for-policy` output)".into(),
                    });
                };
                let t = list
                    .iter()
                    .filter_map(|t| {
                        Some(Target {
                            id: str_of(t, "TargetId")?.to_string(),
                            kind: str_of(t, "Type").unwrap_or("").to_string(),
                            name: str_of(t, "Name").map(str::to_string),
                        })
                    })
                    .collect();
                targets.insert(id.to_string(), t);
            } else {
                policy_files.push(f.clone());
            }
        }
        for f in policy_files {
            let v = read_json(&f)?;
            let Some(p) = v.get("Policy") else {
                return Err(OrgError::Format {
                    path: f.clone(),
                    reason:
                        "no Policy object (expected `aws organizations describe-policy` output)"
                            .into(),
                });
            };
            let summary = p.get("PolicySummary").cloned().unwrap_or(Value::Null);
            let stem = f
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            let id = str_of(&summary, "Id").unwrap_or(&stem).to_string();
            let kind = match str_of(&summary, "Type") {
                Some("SERVICE_CONTROL_POLICY") => OrgPolicyKind::Scp,
                Some("RESOURCE_CONTROL_POLICY") => OrgPolicyKind::Rcp,
                Some(_) => continue, // tag, backup, AI opt-out policies: not about access
                None => {
                    return Err(OrgError::Format {
                        path: f.clone(),
                        reason: "PolicySummary.Type is missing".into(),
                    });
                }
            };
            if let Some((mgmt, org)) = str_of(&summary, "Arn").and_then(org_of_arn) {
                ex.management_account.get_or_insert(mgmt);
                ex.org_id.get_or_insert(org);
            }
            let location = format!("{}: {} {id}", f.display(), kind.as_str());
            let doc = match p.get("Content") {
                Some(c) => {
                    PolicyDocument::from_value(c, &location).map_err(|e| OrgError::Format {
                        path: f.clone(),
                        reason: e.reason,
                    })?
                }
                None => {
                    return Err(OrgError::Format {
                        path: f.clone(),
                        reason: "Policy.Content is missing".into(),
                    });
                }
            };
            let t = targets.remove(&id).or_else(|| targets.remove(&stem));
            ex.policies.push(OrgPolicy {
                name: str_of(&summary, "Name").unwrap_or(&id).to_string(),
                id,
                kind,
                doc,
                targets: t,
                source: f.display().to_string(),
            });
        }
        let pdir = dir.join("parents");
        if pdir.is_dir() {
            let rd = std::fs::read_dir(&pdir).map_err(|source| OrgError::Io {
                path: pdir.clone(),
                source,
            })?;
            let mut pfiles = Vec::new();
            for e in rd {
                let e = e.map_err(|source| OrgError::Io {
                    path: pdir.clone(),
                    source,
                })?;
                pfiles.push(e.path());
            }
            pfiles.sort();
            for f in pfiles {
                let Some(child) = f
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_string)
                else {
                    continue;
                };
                let v = read_json(&f)?;
                let parent = v
                    .get("Parents")
                    .and_then(Value::as_array)
                    .and_then(|a| a.first())
                    .and_then(|p| str_of(p, "Id"));
                match parent {
                    Some(p) => {
                        ex.parents.insert(child, p.to_string());
                    }
                    None => {
                        return Err(OrgError::Format {
                            path: f.clone(),
                            reason: "no Parents[0].Id (expected `aws organizations list-parents` output)".into(),
                        });
                    }
                }
            }
        }
        Ok(ex)
    }

    /// Is the account a member of this organization? `None`: unknown.
    pub fn is_member(&self, account: &str) -> Option<bool> {
        if self.accounts_listed {
            Some(self.accounts.contains(account))
        } else {
            None
        }
    }

    /// The account's ancestors from its parent up to the root, if the
    /// `parents/` tree reaches the root.
    pub fn ancestors(&self, account: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        let mut cur = account.to_string();
        for _ in 0..16 {
            let p = self.parents.get(&cur)?;
            out.push(p.clone());
            if p.starts_with("r-") {
                return Some(out);
            }
            cur = p.clone();
        }
        None
    }

    /// Does one policy apply to an account?
    pub fn applies(&self, p: &OrgPolicy, account: &str) -> Applies {
        let Some(targets) = &p.targets else {
            return Applies::Unknown(format!("no {}.targets.json was exported", p.id));
        };
        let member = self.is_member(account);
        let ancestors = self.ancestors(account);
        let mut unknown = None;
        for t in targets {
            match t.kind.as_str() {
                "ACCOUNT" if t.id == account => return Applies::Yes(format!("account {account}")),
                "ROOT" => match member {
                    Some(true) => return Applies::Yes(format!("root {}", t.id)),
                    Some(false) => {}
                    None => {
                        unknown = Some(format!(
                            "attached to root {} but accounts.json was not exported",
                            t.id
                        ))
                    }
                },
                "ORGANIZATIONAL_UNIT" => match &ancestors {
                    Some(a) if a.contains(&t.id) => return Applies::Yes(format!("OU {}", t.id)),
                    Some(_) => {}
                    None => {
                        if member != Some(false) {
                            unknown = Some(format!(
                                "attached to OU {} and the OU tree (parents/) does not place account {account}",
                                t.id
                            ));
                        }
                    }
                },
                _ => {}
            }
        }
        match unknown {
            Some(u) => Applies::Unknown(u),
            None => Applies::No,
        }
    }

    /// The policies of one kind that bear on an account. `service_linked`:
    /// the resource is a service-linked role (RCPs do not restrict them).
    pub fn applicable(
        &self,
        account: &str,
        kind: OrgPolicyKind,
        service_linked: bool,
    ) -> ApplicableSet<'_> {
        let mut set = ApplicableSet::default();
        if self.management_account.as_deref() == Some(account) {
            set.exempt = Some(format!(
                "account {account} is the organization's management account: {}s do not apply to it",
                kind.as_str()
            ));
            return set;
        }
        if kind == OrgPolicyKind::Rcp && service_linked {
            set.exempt = Some("RCPs do not restrict service-linked roles".into());
            return set;
        }
        if self.is_member(account) == Some(false) {
            set.exempt = Some(format!(
                "account {account} is not in the exported organization ({}): its {}s are not in this export",
                self.org_id.as_deref().unwrap_or("id unknown"),
                kind.as_str()
            ));
            return set;
        }
        for p in self.policies.iter().filter(|p| p.kind == kind) {
            match self.applies(p, account) {
                Applies::Yes(via) => set.applies.push((p, via)),
                Applies::Unknown(why) => set.unknown.push((p, why)),
                Applies::No => {}
            }
        }
        if let Some(mut anc) = self.ancestors(account) {
            anc.reverse();
            anc.push(account.to_string());
            set.levels = Some(anc);
        }
        set
    }

    /// Is a target id one of the levels (`root r-..`, `OU ou-..`, `account ..`)?
    pub fn via_level(via: &str) -> &str {
        via.rsplit(' ').next().unwrap_or(via)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn org_arns() {
        assert_eq!(
            org_of_arn("arn:aws:organizations::111122223333:account/o-exampleorg/444455556666"),
            Some(("111122223333".into(), "o-exampleorg".into()))
        );
        assert_eq!(org_of_arn("arn:aws:iam::111122223333:root"), None);
    }
}
