//! Family `images/`: what runs. Images without a version, owned images whose tag breaks the environment's
//! rule (dev: a branch, test: `rcN`, release: `release-vX.Y.Z`), images from registries the policy does not
//! allow, third-party images that float in release. Every finding points at the line that set the image:
//! the base line, the environment's `images` entry, or its `tags.rule` for retagged owned images.

use std::sync::OnceLock;

use regex::Regex;

use crate::check::code::{Code, Images};
use crate::check::FindingExt;
use crate::check::{Context, Finding, Rule};
use crate::k8s::containers;
use crate::k8s::image::{full_name, ImageRef};
use crate::node::Node;
use crate::resource::Resource;

pub static RULES: &[Rule] = &[
    LATEST_OR_UNTAGGED,
    OWNED_TAG_RULE,
    REGISTRY_NOT_ALLOWED,
    THIRD_PARTY_UNPINNED,
    PULL_ALWAYS_IN_RELEASE,
];

const LATEST_OR_UNTAGGED: Rule =
    Rule::new(Code::Images(Images::LatestOrUntagged), latest_or_untagged);
const OWNED_TAG_RULE: Rule = Rule::new(Code::Images(Images::OwnedTagRule), owned_tag_rule);
const REGISTRY_NOT_ALLOWED: Rule = Rule::new(
    Code::Images(Images::RegistryNotAllowed),
    registry_not_allowed,
);
const THIRD_PARTY_UNPINNED: Rule = Rule::new(
    Code::Images(Images::ThirdPartyUnpinned),
    third_party_unpinned,
);
const PULL_ALWAYS_IN_RELEASE: Rule = Rule::new(
    Code::Images(Images::PullAlwaysInRelease),
    pull_always_in_release,
);

/// One container image of a workload.
struct Image<'a> {
    r: &'a Resource,
    container: &'a Node,
    node: &'a Node,
    text: &'a str,
    parsed: ImageRef,
}

impl Image<'_> {
    fn container_name(&self) -> &str {
        self.container.str_at(&["name"]).unwrap_or("")
    }
    fn describe(&self) -> String {
        format!(
            "container `{}` of {}/{}",
            self.container_name(),
            self.r.kind(),
            self.r.name()
        )
    }
}

fn all_images(resources: &[Resource]) -> Vec<Image<'_>> {
    let mut out = Vec::new();
    for r in resources {
        let Some(spec) = r.pod_spec() else { continue };
        for c in containers(spec).into_iter().map(|c| c.node) {
            let Some(node) = c.get("image") else { continue };
            let Some(text) = node.as_str() else { continue };
            out.push(Image {
                r,
                container: c,
                node,
                text,
                parsed: ImageRef::parse(text),
            });
        }
    }
    out
}

/// The environment's tag rule (`branch`, `rc`, `release`) and owned image names, when there is one.
fn tag_rule<'a>(ctx: &Context<'a>) -> Option<(&'a str, &'a [crate::load::layer::Spanned<String>])> {
    let tags = ctx.layer?.tags.as_ref()?;
    Some((tags.rule.value.as_str(), tags.images.as_slice()))
}

fn is_owned(ctx: &Context<'_>, image: &ImageRef) -> bool {
    tag_rule(ctx).is_some_and(|(_, owned)| owned.iter().any(|o| image.is_named(&o.value)))
}

fn is_release(ctx: &Context<'_>) -> bool {
    tag_rule(ctx).is_some_and(|(rule, _)| rule == "release")
}

fn regex(cell: &'static OnceLock<Regex>, pattern: &str) -> &'static Regex {
    cell.get_or_init(|| {
        Regex::new(pattern).unwrap_or_else(|e| panic!("a built-in pattern does not compile: {e}"))
    })
}

/// Why a tag breaks an environment's rule, or `None` when it keeps it: the tag stage's own rules
/// (`tags::check_tag`), so the check and the tag stage can never disagree.
pub fn tag_breaks_rule(rule: &str, tag: &str) -> Option<String> {
    let rule: crate::tags::TagRule = rule.parse().ok()?;
    crate::tags::check_tag(rule, tag).err().map(|e| match e {
        // The finding names the tag and the rule already: keep only the reason.
        crate::tags::TagError::BreaksRule { reason, .. } => reason.to_string(),
        other => other.to_string(),
    })
}

fn latest_or_untagged(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    for i in all_images(ctx.resources) {
        // A digest pins it; a skaffold artifact is replaced by the image skaffold built, tagged.
        if i.parsed.digest.is_some() || ctx.policy.built_images.contains(&i.parsed.name) {
            continue;
        }
        let what = match i.parsed.tag.as_deref() {
            None => "has no tag (which means `latest`)",
            Some(t) if t.eq_ignore_ascii_case("latest") => "has the tag `latest`",
            Some(_) => continue,
        };
        out.push(
            LATEST_OR_UNTAGGED
                .finding(i.node.origin, Some(i.r), format!("the image `{}` of {} {what}", i.text, i.describe()))
                .help("pin a version tag (or a digest); images the environment owns get their tag from its rule"),
        );
    }
}

fn owned_tag_rule(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some((rule, _)) = tag_rule(ctx) else {
        return;
    };
    let rule_origin = ctx
        .layer
        .and_then(|l| l.tags.as_ref())
        .map(|t| t.rule.origin);
    for i in all_images(ctx.resources) {
        if !is_owned(ctx, &i.parsed) {
            continue;
        }
        let why = match i.parsed.tag.as_deref() {
            Some(t) if t.eq_ignore_ascii_case("latest") => continue,
            Some(t) => match tag_breaks_rule(rule, t) {
                Some(why) => why,
                None => continue,
            },
            None if i.parsed.digest.is_some() => {
                "an owned image carries the environment's tag, not only a digest".to_string()
            }
            None => continue,
        };
        let mut f = OWNED_TAG_RULE
            .finding(
                i.node.origin,
                Some(i.r),
                format!(
                    "the image `{}` of {} breaks the `{rule}` tag rule of environment {}: {why}",
                    i.text,
                    i.describe(),
                    ctx.env.unwrap_or("?")
                ),
            )
            .help("let the tag stage set it (from git, or --tag/--rc/--release-version), or remove the image from `tags.images`");
        if let Some(o) = rule_origin.filter(|o| *o != i.node.origin) {
            f = f.related(o, format!("the environment's rule: {rule}"));
        }
        out.push(f);
    }
}

fn registry_allowed(name: &str, allowed: &[String]) -> bool {
    let full = full_name(name);
    allowed.iter().any(|p| {
        let p = p.trim_end_matches('/');
        let under = |n: &str| n == p || n.strip_prefix(p).is_some_and(|rest| rest.starts_with('/'));
        under(&full) || under(name)
    })
}

fn registry_not_allowed(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    let allowed = &ctx.policy.allowed_registries;
    if allowed.is_empty() {
        return;
    }
    for i in all_images(ctx.resources) {
        if registry_allowed(&i.parsed.name, allowed) {
            continue;
        }
        out.push(
            REGISTRY_NOT_ALLOWED
                .finding(
                    i.node.origin,
                    Some(i.r),
                    format!(
                        "the image `{}` of {} comes from `{}`, which the policy does not allow (allowed: {})",
                        i.text,
                        i.describe(),
                        full_name(&i.parsed.name),
                        allowed.join(", ")
                    ),
                )
                .help("mirror it into an allowed registry and point the image there (an `images` entry with `newName`)"),
        );
    }
}

/// Tags that move: `7`, `7.2`, `v1`, `7.2-alpine`, `stable`, `main`, ...
pub fn floating_tag(tag: &str) -> bool {
    const WORDS: [&str; 13] = [
        "latest", "stable", "lts", "edge", "nightly", "main", "master", "develop", "dev",
        "current", "mainline", "rolling", "alpine",
    ];
    static R: OnceLock<Regex> = OnceLock::new();
    let lower = tag.to_ascii_lowercase();
    let base = lower.split('-').next().unwrap_or("");
    WORDS.contains(&lower.as_str())
        || WORDS.contains(&base)
        || regex(&R, r"^v?\d+(\.\d+)?$").is_match(base)
}

fn third_party_unpinned(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !is_release(ctx) {
        return;
    }
    for i in all_images(ctx.resources) {
        if is_owned(ctx, &i.parsed) || i.parsed.digest.is_some() {
            continue;
        }
        let why = if ctx.policy.require_digests {
            "is not pinned by digest, which the policy requires in release"
        } else {
            match i.parsed.tag.as_deref() {
                // latest-or-untagged's.
                None => continue,
                Some(t) if t.eq_ignore_ascii_case("latest") => continue,
                Some(t) if floating_tag(t) => {
                    "has a tag that moves: it names a line of versions, not one"
                }
                Some(_) => continue,
            }
        };
        out.push(
            THIRD_PARTY_UNPINNED
                .finding(
                    i.node.origin,
                    Some(i.r),
                    format!("the image `{}` of {} {why}", i.text, i.describe()),
                )
                .help("pin the full version (7.2.4), or add `@sha256:` with the digest"),
        );
    }
}

/// A tag that never moves: a digest, `rcN`, `release-vX.Y.Z`, or a full version.
fn fixed(image: &ImageRef) -> bool {
    static R: OnceLock<Regex> = OnceLock::new();
    image.digest.is_some()
        || image.tag.as_deref().is_some_and(|t| {
            crate::tags::parse_rc_image_tag(t).is_some()
                || crate::tags::parse_release_image_tag(t).is_some()
                || (!floating_tag(t) && regex(&R, r"\d+\.\d+\.\d+").is_match(t))
        })
}

fn pull_always_in_release(ctx: &Context<'_>, out: &mut Vec<Finding>) {
    if !is_release(ctx) {
        return;
    }
    for i in all_images(ctx.resources) {
        let Some(policy) = i.container.get("imagePullPolicy") else {
            continue;
        };
        if policy.as_str() != Some("Always") || !fixed(&i.parsed) {
            continue;
        }
        out.push(
            PULL_ALWAYS_IN_RELEASE
                .finding(
                    policy.origin,
                    Some(i.r),
                    format!(
                        "{} pulls `{}` on every start (`imagePullPolicy: Always`), though its tag never changes",
                        i.describe(),
                        i.text
                    ),
                )
                .related(i.node.origin, "the image")
                .help("use `imagePullPolicy: IfNotPresent`"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_rules() {
        for (rule, tag) in [
            ("branch", "feature-login"),
            ("branch", "v3.8.3"),
            ("branch", "main"),
            ("rc", "rc0"),
            ("rc", "rc12"),
            ("release", "release-v3.8.3"),
            ("release", "release-v0.10.0"),
        ] {
            assert_eq!(tag_breaks_rule(rule, tag), None, "{rule} {tag}");
        }
        for (rule, tag) in [
            ("branch", "latest"),
            ("branch", "HEAD"),
            ("branch", "rc1"),
            ("branch", "RC01"),
            ("branch", "release-v3.8.3"),
            ("branch", "-bad"),
            ("rc", "rc01"),
            ("rc", "rc"),
            ("rc", "v3.8.3-rc.2"),
            ("release", "v3.8.3"),
            ("release", "release-v3.8"),
            ("release", "release-v3.8.3-rc1"),
            ("release", "LATEST"),
        ] {
            assert!(tag_breaks_rule(rule, tag).is_some(), "{rule} {tag}");
        }
    }

    #[test]
    fn registries() {
        assert_eq!(full_name("redis"), "docker.io/library/redis");
        assert_eq!(full_name("bitnami/kafka"), "docker.io/bitnami/kafka");
        assert_eq!(
            full_name("ghcr.io/openimsdk/openim-api"),
            "ghcr.io/openimsdk/openim-api"
        );
        assert_eq!(full_name("localhost:5000/x"), "localhost:5000/x");
        assert_eq!(
            full_name("index.docker.io/library/redis"),
            "docker.io/library/redis"
        );
        let allowed = vec![
            "ghcr.io/openimsdk/".to_string(),
            "docker.io/library".to_string(),
        ];
        assert!(registry_allowed("redis", &allowed));
        assert!(registry_allowed("ghcr.io/openimsdk/openim-api", &allowed));
        assert!(!registry_allowed(
            "ghcr.io/openimsdk-fork/openim-api",
            &allowed
        ));
        assert!(!registry_allowed("openim/openim-api", &allowed));
    }

    #[test]
    fn floating_tags() {
        for t in ["7", "7.2", "v1", "7.2-alpine", "stable", "alpine", "main"] {
            assert!(floating_tag(t), "{t}");
        }
        for t in [
            "7.2.4",
            "3.9.0",
            "7.2.4-alpine",
            "RELEASE.2024-01-16T16-07-38Z",
            "16.4",
        ] {
            assert_eq!(floating_tag(t), t == "16.4", "{t}");
        }
    }
}
