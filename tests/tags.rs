//! The tag rules end to end: real git2 repositories in temporary directories, read by `repo_facts`
//! and decided by `resolve`.

use std::collections::{BTreeMap, HashSet};

use git2::{Oid, Repository, RepositoryInitOptions, Signature, Time};
use openim_gitops::git::repo_facts;
use openim_gitops::tags::{
    branch_to_tag, check_tag, is_legal_oci_tag, resolve, TagDecision, TagError, TagInputs, TagRule,
    TagSource,
};
use proptest::prelude::*;
use tempfile::TempDir;

struct TestRepo {
    dir: TempDir,
    repo: Repository,
}

impl TestRepo {
    fn new() -> TestRepo {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_opts(
            dir.path(),
            RepositoryInitOptions::new().initial_head("main"),
        )
        .unwrap();
        TestRepo { dir, repo }
    }

    fn sig() -> Signature<'static> {
        Signature::new("t", "t@example.com", &Time::new(1_700_000_000, 0)).unwrap()
    }

    /// A commit with the given parents, `branch` created or moved to it.
    fn commit(&self, branch: &str, parents: &[Oid], message: &str) -> Oid {
        let tree = self.repo.treebuilder(None).unwrap().write().unwrap();
        let tree = self.repo.find_tree(tree).unwrap();
        let parents: Vec<_> = parents
            .iter()
            .map(|p| self.repo.find_commit(*p).unwrap())
            .collect();
        let parents: Vec<_> = parents.iter().collect();
        let sig = Self::sig();
        let id = self
            .repo
            .commit(None, &sig, &sig, message, &tree, &parents)
            .unwrap();
        self.repo
            .reference(&format!("refs/heads/{branch}"), id, true, "test")
            .unwrap();
        id
    }

    fn annotated(&self, name: &str, target: Oid) {
        let object = self.repo.find_object(target, None).unwrap();
        self.repo
            .tag(name, &object, &Self::sig(), name, false)
            .unwrap();
    }

    fn lightweight(&self, name: &str, target: Oid) {
        let object = self.repo.find_object(target, None).unwrap();
        self.repo.tag_lightweight(name, &object, false).unwrap();
    }

    fn checkout(&self, branch: &str) {
        self.repo.set_head(&format!("refs/heads/{branch}")).unwrap();
    }

    fn detach(&self, commit: Oid) {
        self.repo.set_head_detached(commit).unwrap();
    }

    fn resolve(&self, rule: TagRule, inputs: &TagInputs) -> Result<TagDecision, TagError> {
        let facts = repo_facts(self.dir.path()).unwrap();
        resolve(rule, inputs, Some(&facts))
    }
}

fn short(id: Oid) -> String {
    id.to_string()[..7].to_string()
}

fn ci(pairs: &[(&str, &str)]) -> TagInputs {
    TagInputs {
        ci_env: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..TagInputs::default()
    }
}

fn tested() -> TagInputs {
    TagInputs {
        require_tested_release: true,
        ..TagInputs::default()
    }
}

#[test]
fn dev_tags_come_from_the_branch() {
    let t = TestRepo::new();
    let root = t.commit("main", &[], "root");
    // The expected tags are spelled out: they must not change between versions of the tool.
    let cases = [
        ("main", "main"),
        ("feature-a", "feature-a"),
        ("feature/a", "feature-a-951d42dc"),
        ("feature/Login_v2", "feature-login_v2-181d1296"),
        ("Bugfix/#123-crash!", "bugfix-123-crash-c6f9cb96"),
        ("user/jürgen/ß", "user-j-rgen-009b8dcd"),
        (
            "dependabot/npm_and_yarn/Axios-1.7.4",
            "dependabot-npm_and_yarn-axios-1.7.4-5ba7ecfe",
        ),
        ("release-v3.8", "release-v3.8-065429d1"),
    ];
    let mut seen = HashSet::new();
    for (branch, tag) in cases {
        t.commit(branch, &[root], branch);
        t.checkout(branch);
        let decision = t.resolve(TagRule::Branch, &TagInputs::default()).unwrap();
        assert_eq!(decision.tag, tag, "{branch}");
        assert_eq!(
            decision.source,
            TagSource::Branch {
                branch: branch.to_string(),
                rev: None,
            }
        );
        assert_eq!(decision.to_string(), format!("{tag} from branch {branch}"));
        assert_eq!(check_tag(TagRule::Branch, &decision.tag), Ok(()));
        assert!(seen.insert(decision.tag));
    }
}

#[test]
fn dev_on_a_detached_head_reads_the_ci_variables() {
    let t = TestRepo::new();
    let head = t.commit("main", &[], "root");
    t.detach(head);

    let pull_request = ci(&[
        ("CI", "true"),
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_HEAD_REF", "feature/Login_v2"),
        ("GITHUB_REF", "refs/pull/7/merge"),
        ("GITHUB_REF_NAME", "7/merge"),
    ]);
    let decision = t.resolve(TagRule::Branch, &pull_request).unwrap();
    assert_eq!(
        decision.to_string(),
        "feature-login_v2-181d1296 from branch feature/Login_v2 in CI variable GITHUB_HEAD_REF"
    );

    let push = ci(&[
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_HEAD_REF", ""),
        ("GITHUB_REF", "refs/heads/main"),
        ("GITHUB_REF_NAME", "main"),
        ("GITHUB_REF_TYPE", "branch"),
    ]);
    let decision = t.resolve(TagRule::Branch, &push).unwrap();
    assert_eq!(
        decision.to_string(),
        "main from branch main in CI variable GITHUB_REF_NAME"
    );

    for inputs in [
        ci(&[]),
        ci(&[("GITHUB_REF_NAME", "main")]),
        ci(&[("GITHUB_ACTIONS", "true"), ("GITHUB_HEAD_REF", "")]),
    ] {
        let err = t.resolve(TagRule::Branch, &inputs).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "HEAD {} is detached and no CI variable names the branch",
                short(head)
            )
        );
        assert_eq!(
            err.hint(),
            "check out a branch, run in CI (GITHUB_HEAD_REF or GITHUB_REF_NAME when GITHUB_ACTIONS=true), or pass --tag"
        );
        assert!(!err.is_policy());
        assert_eq!(err.exit_code(), 2);
    }

    let err = t
        .resolve(
            TagRule::Branch,
            &ci(&[("GITHUB_ACTIONS", "true"), ("GITHUB_REF_NAME", "HEAD")]),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "`HEAD` is not a branch name: HEAD is detached"
    );
    assert!(!err.is_policy());
}

#[test]
fn dev_explicit_tag_is_checked() {
    let t = TestRepo::new();
    t.commit("main", &[], "root");
    let explicit = |tag: &str| TagInputs {
        explicit_tag: Some(tag.to_string()),
        ..TagInputs::default()
    };
    let decision = t.resolve(TagRule::Branch, &explicit("pr-7")).unwrap();
    assert_eq!(decision.to_string(), "pr-7 from the --tag flag");
    let err = t.resolve(TagRule::Branch, &explicit("latest")).unwrap_err();
    assert_eq!(err.to_string(), "the tag `latest` is never allowed");
    assert!(err.is_policy());
    let err = t.resolve(TagRule::Branch, &explicit("rc2")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tag `rc2` breaks the branch rule: it looks like a test or release tag"
    );
    assert!(err.is_policy());
}

#[test]
fn test_takes_the_newest_reachable_candidate() {
    let t = TestRepo::new();
    // main: a - b - c - d (HEAD); `next` branches off b and is never merged.
    let a = t.commit("main", &[], "a");
    let b = t.commit("main", &[a], "b");
    let c = t.commit("main", &[b], "c");
    let d = t.commit("main", &[c], "d");
    let next = t.commit("next", &[b], "next");
    t.annotated("v3.8.3-rc.0", a);
    t.annotated("v3.8.3-rc.1", b);
    t.lightweight("v3.8.3-rc.2", c);
    t.lightweight("rc40", c);
    t.annotated("v3.8.2-rc.9", d);
    t.annotated("v3.9.0-rc.0", next);
    t.lightweight("v3.8.3", d);

    let decision = t.resolve(TagRule::Rc, &TagInputs::default()).unwrap();
    assert_eq!(decision.tag, "rc2");
    assert_eq!(
        decision.source,
        TagSource::RcTag {
            tag: "v3.8.3-rc.2".into(),
            commit: c.to_string(),
            distance: 1,
            rev: None,
        }
    );
    assert_eq!(
        decision.to_string(),
        format!(
            "rc2 from git tag v3.8.3-rc.2 on {}, 1 commit before HEAD",
            short(c)
        )
    );

    // On `next`, its own candidate is the newest.
    t.checkout("next");
    let decision = t.resolve(TagRule::Rc, &TagInputs::default()).unwrap();
    assert_eq!(
        decision.to_string(),
        format!("rc0 from git tag v3.9.0-rc.0 on HEAD {}", short(next))
    );

    // --rc wins over the repository.
    let decision = t
        .resolve(
            TagRule::Rc,
            &TagInputs {
                rc: Some(5),
                ..TagInputs::default()
            },
        )
        .unwrap();
    assert_eq!(decision.to_string(), "rc5 from the --rc flag");
}

#[test]
fn test_without_a_candidate_is_refused() {
    let t = TestRepo::new();
    let a = t.commit("main", &[], "a");
    let head = t.commit("main", &[a], "b");
    t.annotated("v3.8.3", a);
    t.annotated("v3.8.3-beta.1", head);
    let other = t.commit("other", &[a], "other");
    t.annotated("v3.8.4-rc.1", other);
    let err = t.resolve(TagRule::Rc, &TagInputs::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "no release-candidate tag is reachable from HEAD {}",
            short(head)
        )
    );
    assert_eq!(
        err.hint(),
        "tag a commit vX.Y.Z-rc.N (or rcN), or pass --rc N"
    );
    assert!(err.is_policy());
    assert_eq!(err.exit_code(), 1);
}

#[test]
fn release_takes_the_version_tag_on_head() {
    for annotated in [true, false] {
        let t = TestRepo::new();
        let a = t.commit("main", &[], "a");
        let head = t.commit("main", &[a], "b");
        t.annotated("v3.8.2", a);
        if annotated {
            t.annotated("v3.8.3", head);
        } else {
            t.lightweight("v3.8.3", head);
        }
        t.lightweight("deployed", head);
        let decision = t.resolve(TagRule::Release, &TagInputs::default()).unwrap();
        assert_eq!(decision.tag, "release-v3.8.3");
        assert_eq!(
            decision.to_string(),
            format!("release-v3.8.3 from git tag v3.8.3 on HEAD {}", short(head))
        );
    }
}

#[test]
fn release_from_an_untagged_commit_is_refused_unless_the_version_is_given() {
    let t = TestRepo::new();
    let a = t.commit("main", &[], "a");
    let head = t.commit("main", &[a], "b");
    t.annotated("v3.8.2", a);
    t.annotated("v3.8.3-rc.1", head);
    let err = t
        .resolve(TagRule::Release, &TagInputs::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "HEAD {} has no version tag vX.Y.Z, and release renders only tagged commits",
            short(head)
        )
    );
    assert_eq!(
        err.hint(),
        "tag the commit with vX.Y.Z or pass --release-version"
    );
    assert!(err.is_policy());

    let version = TagInputs {
        version: Some("v3.8.3".into()),
        ..TagInputs::default()
    };
    let decision = t.resolve(TagRule::Release, &version).unwrap();
    assert_eq!(
        decision.to_string(),
        "release-v3.8.3 from the --release-version flag (3.8.3)"
    );
}

#[test]
fn release_with_two_version_tags_on_head_is_refused() {
    let t = TestRepo::new();
    let head = t.commit("main", &[], "a");
    t.annotated("v3.9.0", head);
    t.lightweight("v3.8.3", head);
    let err = t
        .resolve(TagRule::Release, &TagInputs::default())
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "HEAD {} has several version tags: v3.8.3, v3.9.0",
            short(head)
        )
    );
    assert_eq!(
        err.hint(),
        "delete the wrong tag, or pass --release-version to choose"
    );
    assert!(err.is_policy());

    let err = t
        .resolve(
            TagRule::Release,
            &TagInputs {
                version: Some("4.0.0".into()),
                ..TagInputs::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "version 4.0.0 disagrees with the version tag v3.8.3, v3.9.0 on HEAD"
    );
    assert!(err.is_policy());
}

#[test]
fn tested_release_needs_a_candidate_tag_on_the_same_commit() {
    let t = TestRepo::new();
    let a = t.commit("main", &[], "a");
    let head = t.commit("main", &[a], "b");
    t.annotated("v3.8.3-rc.1", a);
    t.annotated("v3.8.3", head);
    let err = t.resolve(TagRule::Release, &tested()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "v3.8.3 was never a tested candidate: HEAD {} has no tag v3.8.3-rc.N",
            short(head)
        )
    );
    assert_eq!(
        err.hint(),
        "tag this commit v3.8.3-rc.N and render test from it before release"
    );
    assert!(err.is_policy());
    // Without the policy the same commit is fine.
    assert!(t.resolve(TagRule::Release, &TagInputs::default()).is_ok());

    t.lightweight("v3.8.3-rc.2", head);
    let decision = t.resolve(TagRule::Release, &tested()).unwrap();
    assert_eq!(decision.tag, "release-v3.8.3");
}

#[test]
fn outside_a_repository_only_flags_and_ci_variables_work() {
    let err = repo_facts(&tempfile::tempdir().unwrap().path().join("nowhere")).unwrap_err();
    assert!(!err.is_policy());
    let err = resolve(TagRule::Release, &TagInputs::default(), None).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no git repository to take the version tag from"
    );
    assert_eq!(
        err.hint(),
        "run inside the repository, or pass --release-version X.Y.Z"
    );
    assert!(!err.is_policy());
    let err = resolve(
        TagRule::Release,
        &TagInputs {
            version: Some("3.8.3".into()),
            ..tested()
        },
        None,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot check that v3.8.3 was a tested candidate without a git repository"
    );
    assert!(err.is_policy());
}

/// Branch-like names: the characters git allows plus some it does not, so every branch of the
/// mapping is exercised.
fn branch_name() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9/_.\\-]{1,40}",
        "[a-z]{1,8}(/[A-Za-z0-9_.#!@ü-]{1,12}){0,4}",
        "[a-z.\\-]{100,200}",
        "\\PC{1,60}",
    ]
}

proptest! {
    #[test]
    fn branch_tags_are_legal(branch in branch_name()) {
        prop_assume!(!branch.trim().is_empty() && branch != "HEAD");
        let tag = branch_to_tag(&branch).unwrap();
        prop_assert!(is_legal_oci_tag(&tag), "{tag}");
        prop_assert!(check_tag(TagRule::Branch, &tag).is_ok(), "{tag}");
        prop_assert!(tag.len() <= 128);
        prop_assert_eq!(branch_to_tag(&branch).unwrap(), tag);
    }

    #[test]
    fn branch_tags_do_not_collide(branches in prop::collection::hash_set(branch_name(), 2..40)) {
        let mut tags = HashSet::new();
        for branch in branches.iter().filter(|b| !b.trim().is_empty() && *b != "HEAD") {
            let tag = branch_to_tag(branch).unwrap();
            prop_assert!(tags.insert(tag.clone()), "{branch} -> {tag} collides");
        }
    }
}

#[test]
fn branch_tags_keep_confusable_names_apart() {
    let names = [
        "feature/a",
        "feature-a",
        "feature_a",
        "Feature/a",
        "feature//a",
        "feature/-a",
        "feature/A",
        "FEATURE-A",
        "feature.a",
        "-feature-a",
        "feature-a-",
        "feature/a/",
    ];
    let tags: HashSet<String> = names.iter().map(|n| branch_to_tag(n).unwrap()).collect();
    assert_eq!(tags.len(), names.len());
}
