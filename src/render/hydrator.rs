//! `hydrator.metadata`: the file GitOps Promoter and Argo CD's source hydrator read to learn which DRY
//! (source) commit a hydrated (rendered) commit came from. The contract's fields (`drySha`, `repoURL`,
//! `author`, `date`, `subject`, `body`, `references`; Argo CD adds `commands`) come first; the fields of
//! our own (`environment`, `resources`, `tags`, `tagSource`, `tool`) follow. The schema of the file is
//! `schemas/openim-gitops/hydrator-metadata.schema.json`; see docs/argocd.md for where each field comes from.

use serde::{Deserialize, Serialize};

use super::Metadata;

/// What the metadata records about the DRY commit, read from git (the `%an <%ae>`, `%aI`, `%s` and
/// `%b` of `git show`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryCommit {
    /// `Name <email>` of the commit's author.
    pub author: String,
    /// The author date, ISO 8601 with the author's offset (`2024-01-15T10:30:00+02:00`).
    pub date: String,
    /// The message's first paragraph, on one line.
    pub subject: String,
    /// The message after the first paragraph (empty when there is none).
    pub body: String,
}

/// Another commit the hydrated content depends on (the contract's `references[].commit`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferencedCommit {
    pub sha: String,
    #[serde(rename = "repoURL", skip_serializing_if = "Option::is_none")]
    pub repo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub commit: ReferencedCommit,
}

/// The file, as written and as read back (by `promote`, from another environment's branch).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HydratorMetadata {
    #[serde(rename = "drySha", skip_serializing_if = "Option::is_none")]
    pub dry_sha: Option<String>,
    #[serde(rename = "repoURL", skip_serializing_if = "Option::is_none")]
    pub repo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default)]
    pub references: Vec<Reference>,
    #[serde(default)]
    pub commands: Vec<String>,
    #[serde(default)]
    pub environment: String,
    #[serde(default)]
    pub resources: usize,
    #[serde(default)]
    pub tags: std::collections::BTreeMap<String, String>,
    #[serde(rename = "tagSource", default)]
    pub tag_source: Option<String>,
    #[serde(default)]
    pub tool: String,
}

impl HydratorMetadata {
    pub fn new(meta: &Metadata, resources: usize) -> HydratorMetadata {
        let dry = meta.dry.as_ref();
        HydratorMetadata {
            dry_sha: meta.source_commit.clone(),
            repo_url: meta.repo_url.clone(),
            author: dry.map(|d| d.author.clone()),
            date: dry.map(|d| d.date.clone()),
            subject: dry.map(|d| d.subject.clone()),
            body: dry.map(|d| d.body.clone()),
            references: meta.references.clone(),
            commands: commands(meta),
            environment: meta.environment.clone(),
            resources,
            tags: meta.tags.clone(),
            tag_source: meta.tag_source.clone(),
            tool: format!("openim-gitops {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Pretty JSON with a trailing newline, fields in a fixed order.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Reads the file; `None` when it is not JSON of this shape.
    pub fn parse(bytes: &[u8]) -> Option<HydratorMetadata> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The commands that render this tree again in a checkout of the DRY commit (Argo CD's `commands`):
/// the image tag is given explicitly, so the result does not depend on the tags in the clone.
pub fn commands(meta: &Metadata) -> Vec<String> {
    let env = &meta.environment;
    let mut render = format!("cargo run --release --locked -- render --env {env}");
    let tags: std::collections::BTreeSet<&String> = meta.tags.values().collect();
    if let [tag] = tags.into_iter().collect::<Vec<_>>()[..] {
        render.push_str(&format!(" --tag {tag}"));
    }
    render.push_str(" --out rendered");
    vec![render]
}

/// `git show --format=%aI`: seconds since the epoch and an offset in minutes as ISO 8601.
pub fn iso8601(secs: i64, offset_minutes: i32) -> String {
    let local = secs + i64::from(offset_minutes) * 60;
    let days = local.div_euclid(86_400);
    let rem = local.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let off = offset_minutes.unsigned_abs();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        off / 60,
        off % 60
    )
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_as_git_prints_them() {
        assert_eq!(iso8601(1_700_000_000, 0), "2023-11-14T22:13:20+00:00");
        assert_eq!(iso8601(1_700_000_000, 120), "2023-11-15T00:13:20+02:00");
        assert_eq!(iso8601(1_700_000_000, -330), "2023-11-14T16:43:20-05:30");
        assert_eq!(iso8601(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso8601(951_782_400, 0), "2000-02-29T00:00:00+00:00");
    }

    #[test]
    fn the_commands_name_the_tag_when_there_is_one() {
        let mut meta = Metadata {
            environment: "release".into(),
            ..Metadata::default()
        };
        assert_eq!(
            commands(&meta),
            ["cargo run --release --locked -- render --env release --out rendered"]
        );
        meta.tags
            .insert("openim/openim-api".into(), "release-v3.8.3".into());
        assert_eq!(
            commands(&meta),
            ["cargo run --release --locked -- render --env release --tag release-v3.8.3 --out rendered"]
        );
    }

    #[test]
    fn written_and_read_back() {
        let meta = Metadata {
            environment: "test".into(),
            source_commit: Some("a".repeat(40)),
            repo_url: Some("https://example.com/r.git".into()),
            dry: Some(DryCommit {
                author: "Jane <jane@example.com>".into(),
                date: "2023-11-14T22:13:20+00:00".into(),
                subject: "feat: x".into(),
                body: "why\n\nSigned-off-by: Jane".into(),
            }),
            ..Metadata::default()
        };
        let file = HydratorMetadata::new(&meta, 3);
        let json = file.to_json();
        assert!(json.starts_with("{\n  \"drySha\": \"aaaa"), "{json}");
        assert_eq!(HydratorMetadata::parse(json.as_bytes()), Some(file));
        assert_eq!(HydratorMetadata::parse(b"not json"), None);
    }
}
