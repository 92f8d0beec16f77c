//! The git note GitOps Promoter reads on a hydrated commit: `refs/notes/hydrator.metadata` holds
//! `{"drySha": "<sha>"}`, the newest DRY commit rendered to that commit. A render whose manifests did not
//! change makes no commit but moves the note, so the promoter knows the newest DRY commit was hydrated.

use git2::{ErrorCode, Oid, Repository, Signature};

use crate::error::Result;

use super::git_error;

/// The notes reference of the contract.
pub const NOTES_REF: &str = "refs/notes/hydrator.metadata";

/// The note's text: `{"drySha": "<sha>"}` and a newline.
pub fn note_text(dry_sha: &str) -> String {
    format!("{}\n", serde_json::json!({ "drySha": dry_sha }))
}

/// The `drySha` of the note on `commit`, if there is a note and it says one.
pub fn read(repo: &Repository, commit: Oid) -> Result<Option<String>> {
    match repo.find_note(Some(NOTES_REF), commit) {
        Ok(note) => {
            let value: Option<serde_json::Value> =
                serde_json::from_slice(note.message_bytes()).ok();
            Ok(value
                .as_ref()
                .and_then(|v| v.get("drySha"))
                .and_then(|v| v.as_str())
                .map(str::to_string))
        }
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(e) => Err(git_error("cannot read the hydrator note", e)),
    }
}

/// Writes (or replaces) the note on `commit`; nothing is written when it already says `dry_sha`.
/// Returns whether the notes reference moved.
pub fn write(
    repo: &Repository,
    commit: Oid,
    dry_sha: &str,
    author: &Signature<'_>,
    committer: &Signature<'_>,
) -> Result<bool> {
    if read(repo, commit)?.as_deref() == Some(dry_sha) {
        return Ok(false);
    }
    repo.note(
        author,
        committer,
        Some(NOTES_REF),
        commit,
        &note_text(dry_sha),
        true,
    )
    .map_err(|e| git_error("cannot write the hydrator note", e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_replaced_and_read() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let sig = Signature::new("a", "a@example.com", &git2::Time::new(0, 0)).unwrap();
        let tree = repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let c = repo.commit(None, &sig, &sig, "x", &tree, &[]).unwrap();
        assert_eq!(read(&repo, c).unwrap(), None);
        assert!(write(&repo, c, "aaa", &sig, &sig).unwrap());
        assert_eq!(read(&repo, c).unwrap().as_deref(), Some("aaa"));
        let first = repo.refname_to_id(NOTES_REF).unwrap();
        assert!(!write(&repo, c, "aaa", &sig, &sig).unwrap());
        assert_eq!(repo.refname_to_id(NOTES_REF).unwrap(), first);
        assert!(write(&repo, c, "bbb", &sig, &sig).unwrap());
        assert_eq!(read(&repo, c).unwrap().as_deref(), Some("bbb"));
        assert_eq!(
            repo.find_note(Some(NOTES_REF), c).unwrap().message().ok(),
            Some("{\"drySha\":\"bbb\"}\n")
        );
    }
}
