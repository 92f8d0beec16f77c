//! Objects computed in memory and written as one pack.
//!
//! A rendered tree of 10,000 files is 12,000 objects. Written one by one they become 12,000 loose files
//! (and libgit2 looks for each in every pack first); here their ids are computed in memory, nothing is
//! written when the repository already holds the tree, and what it lacks goes into a single pack file,
//! indexed by libgit2.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::io::Write;

use git2::{ObjectType, Odb, OdbLookupFlags, Oid, Repository};
use sha1::{Digest, Sha1};

use crate::error::{Error, Result};

use super::git_error;

const FILE_MODE: &[u8] = b"100644";
const DIR_MODE: &[u8] = b"40000";

/// One object, its id computed but not written.
pub struct Object<'a> {
    pub id: Oid,
    pub kind: ObjectType,
    pub data: Cow<'a, [u8]>,
}

impl<'a> Object<'a> {
    pub fn new(kind: ObjectType, data: Cow<'a, [u8]>) -> Result<Object<'a>> {
        let id =
            Oid::hash_object(kind, &data).map_err(|e| git_error("cannot hash an object", e))?;
        Ok(Object { id, kind, data })
    }
}

/// A tree computed in memory: its object, and its entries' objects below it.
pub struct MemTree<'a> {
    pub object: Object<'a>,
    entries: Vec<MemEntry<'a>>,
}

enum MemEntry<'a> {
    Blob(Object<'a>),
    Tree(MemTree<'a>),
}

enum Node<'a> {
    File(&'a [u8]),
    Dir(BTreeMap<&'a str, Node<'a>>),
}

impl<'a> MemTree<'a> {
    /// The tree of `files` (path with `/` -> bytes). Paths that git cannot hold are errors.
    pub fn build(files: &BTreeMap<&'a str, &'a [u8]>) -> Result<MemTree<'a>> {
        let mut root: BTreeMap<&str, Node<'_>> = BTreeMap::new();
        for (path, bytes) in files {
            let parts: Vec<&str> = path.split('/').collect();
            if parts
                .iter()
                .any(|p| p.is_empty() || *p == "." || *p == ".." || p.eq_ignore_ascii_case(".git"))
            {
                return Err(Error::Git(format!(
                    "`{path}` cannot be a path in a git tree"
                )));
            }
            let Some((name, dirs)) = parts.split_last() else {
                continue;
            };
            let mut level = &mut root;
            for d in dirs {
                let entry = level.entry(d).or_insert_with(|| Node::Dir(BTreeMap::new()));
                level = match entry {
                    Node::Dir(m) => m,
                    Node::File(_) => {
                        return Err(Error::Git(format!(
                            "`{path}` lies under a file of the same name"
                        )))
                    }
                };
            }
            if level.insert(name, Node::File(bytes)).is_some() {
                return Err(Error::Git(format!("`{path}` is both a file and a folder")));
            }
        }
        Self::level(&root)
    }

    fn level(level: &BTreeMap<&'a str, Node<'a>>) -> Result<MemTree<'a>> {
        let mut entries = Vec::with_capacity(level.len());
        let mut named = Vec::with_capacity(level.len());
        for (name, node) in level {
            let entry = match node {
                Node::File(bytes) => {
                    MemEntry::Blob(Object::new(ObjectType::Blob, Cow::Borrowed(bytes))?)
                }
                Node::Dir(sub) => MemEntry::Tree(Self::level(sub)?),
            };
            named.push((*name, entries.len()));
            entries.push(entry);
        }
        // git orders a tree's entries by name, a folder's name compared as if it ended in `/`.
        named.sort_by(|(a, i), (b, j)| {
            let key = |name: &'a str, k: usize| {
                let slash: &[u8] = match entries[k] {
                    MemEntry::Tree(_) => b"/",
                    MemEntry::Blob(_) => b"",
                };
                name.as_bytes().iter().chain(slash.iter())
            };
            key(a, *i).cmp(key(b, *j))
        });
        let mut data = Vec::with_capacity(named.len() * 40);
        for (name, k) in &named {
            let (mode, id) = match &entries[*k] {
                MemEntry::Blob(o) => (FILE_MODE, o.id),
                MemEntry::Tree(t) => (DIR_MODE, t.object.id),
            };
            data.extend_from_slice(mode);
            data.push(b' ');
            data.extend_from_slice(name.as_bytes());
            data.push(0);
            data.extend_from_slice(id.as_bytes());
        }
        Ok(MemTree {
            object: Object::new(ObjectType::Tree, Cow::Owned(data))?,
            entries,
        })
    }

    pub fn id(&self) -> Oid {
        self.object.id
    }

    /// The root's entries in git's order: name, id, file mode.
    pub fn entries(&self) -> Vec<(&[u8], Oid, i32)> {
        let data: &[u8] = &self.object.data;
        let mut out = Vec::with_capacity(self.entries.len());
        let mut rest = data;
        // Our own serialization: `<mode> <name>\0<20-byte id>` per entry.
        while let Some(sp) = rest.iter().position(|b| *b == b' ') {
            let Some(nul) = rest[sp..].iter().position(|b| *b == 0).map(|n| sp + n) else {
                break;
            };
            let Some(raw) = rest.get(nul + 1..nul + 21) else {
                break;
            };
            let Ok(id) = Oid::from_bytes(raw) else {
                break;
            };
            let mode = if &rest[..sp] == DIR_MODE {
                0o040000
            } else {
                0o100644
            };
            out.push((&rest[sp + 1..nul], id, mode));
            rest = &rest[nul + 21..];
        }
        out
    }

    /// The objects of this tree the object database lacks. A tree the database holds is taken with
    /// everything below it (git's own invariant), so an unchanged folder costs one look-up.
    pub fn missing<'t>(&'t self, odb: &Odb<'_>) -> Result<Vec<&'t Object<'a>>> {
        odb.refresh()
            .map_err(|e| git_error("cannot read the object database", e))?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        self.collect_missing(odb, &mut seen, &mut out);
        Ok(out)
    }

    fn collect_missing<'t>(
        &'t self,
        odb: &Odb<'_>,
        seen: &mut HashSet<Oid>,
        out: &mut Vec<&'t Object<'a>>,
    ) {
        if !seen.insert(self.object.id) || holds(odb, self.object.id) {
            return;
        }
        out.push(&self.object);
        for entry in &self.entries {
            match entry {
                MemEntry::Blob(o) => {
                    if seen.insert(o.id) && !holds(odb, o.id) {
                        out.push(o);
                    }
                }
                MemEntry::Tree(t) => t.collect_missing(odb, seen, out),
            }
        }
    }
}

/// A tree object from its entries (name, id, git file mode), ordered as git orders them: a folder's
/// name compared as if it ended in `/`. The modes are written as given, so entries copied from an
/// existing tree keep their ids.
pub fn tree_object(mut entries: Vec<(Vec<u8>, Oid, i32)>) -> Result<Object<'static>> {
    fn key(name: &[u8], mode: i32) -> Vec<u8> {
        let mut k = name.to_vec();
        if mode & 0o170000 == 0o040000 {
            k.push(b'/');
        }
        k
    }
    entries.sort_by_cached_key(|(name, _, mode)| key(name, *mode));
    let mut data = Vec::with_capacity(entries.len() * 40);
    for (name, id, mode) in &entries {
        data.extend_from_slice(format!("{mode:o}").as_bytes());
        data.push(b' ');
        data.extend_from_slice(name);
        data.push(0);
        data.extend_from_slice(id.as_bytes());
    }
    Object::new(ObjectType::Tree, Cow::Owned(data))
}

/// Whether the database holds `id`, without rescanning the pack folder on every miss (libgit2's
/// default): the caller refreshed it once, and an object packed since then is at worst written again.
fn holds(odb: &Odb<'_>, id: Oid) -> bool {
    odb.exists_ext(id, OdbLookupFlags::NO_REFRESH)
}

/// Writes the objects among `objects` the repository lacks as one pack; returns how many were written
/// (0: nothing written, no pack made).
pub fn write_missing<'o>(
    repo: &Repository,
    objects: impl IntoIterator<Item = &'o Object<'o>>,
) -> Result<usize> {
    let odb = repo
        .odb()
        .map_err(|e| git_error("cannot open the object database", e))?;
    odb.refresh()
        .map_err(|e| git_error("cannot read the object database", e))?;
    let mut seen = HashSet::new();
    let todo: Vec<&Object<'_>> = objects
        .into_iter()
        .filter(|o| seen.insert(o.id) && !holds(&odb, o.id))
        .collect();
    write_pack(&odb, &todo)?;
    Ok(todo.len())
}

/// Writes `objects` (assumed missing, distinct) as one pack file through libgit2's indexer.
pub fn write_pack(odb: &Odb<'_>, objects: &[&Object<'_>]) -> Result<()> {
    if objects.is_empty() {
        return Ok(());
    }
    let bytes = pack_bytes(objects)?;
    let mut writer = odb
        .packwriter()
        .map_err(|e| git_error("cannot start a pack", e))?;
    writer
        .write_all(&bytes)
        .map_err(|e| Error::Git(format!("cannot write a pack: {e}")))?;
    writer
        .commit()
        .map_err(|e| git_error("cannot index the pack", e))?;
    Ok(())
}

/// A version 2 pack holding `objects` whole (no deltas): what libgit2's indexer and git read.
fn pack_bytes(objects: &[&Object<'_>]) -> Result<Vec<u8>> {
    let count = u32::try_from(objects.len())
        .map_err(|_| Error::Git("too many objects for one pack".to_string()))?;
    let total: usize = objects.iter().map(|o| o.data.len()).sum();
    let mut out = Vec::with_capacity(total / 2 + 64);
    out.extend_from_slice(b"PACK");
    out.extend_from_slice(&2u32.to_be_bytes());
    out.extend_from_slice(&count.to_be_bytes());
    for object in objects {
        let kind: u8 = match object.kind {
            ObjectType::Commit => 1,
            ObjectType::Tree => 2,
            ObjectType::Blob => 3,
            ObjectType::Tag => 4,
            other => return Err(Error::Git(format!("cannot pack a {other} object"))),
        };
        // Type and size: 4 bits of size in the first byte, then 7 bits a byte, high bit = more.
        let mut size = object.data.len();
        let mut byte = (kind << 4) | (size & 0x0f) as u8;
        size >>= 4;
        while size > 0 {
            out.push(byte | 0x80);
            byte = (size & 0x7f) as u8;
            size >>= 7;
        }
        out.push(byte);
        let mut z = flate2::write::ZlibEncoder::new(out, flate2::Compression::default());
        z.write_all(&object.data)
            .map_err(|e| Error::Git(format!("cannot compress an object: {e}")))?;
        out = z
            .finish()
            .map_err(|e| Error::Git(format!("cannot compress an object: {e}")))?;
    }
    let sum = Sha1::digest(&out);
    out.extend_from_slice(&sum);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files<'a>(pairs: &[(&'a str, &'a [u8])]) -> BTreeMap<&'a str, &'a [u8]> {
        pairs.iter().copied().collect()
    }

    /// The same files through libgit2's tree builder, which orders entries itself.
    fn libgit2_tree(repo: &Repository, files: &[(&str, &[u8])]) -> Oid {
        let mut b = repo.treebuilder(None).unwrap();
        let mut dirs: BTreeMap<&str, Vec<(&str, &[u8])>> = BTreeMap::new();
        for (path, bytes) in files {
            match path.split_once('/') {
                Some((dir, rest)) => dirs.entry(dir).or_default().push((rest, bytes)),
                None => {
                    b.insert(path, repo.blob(bytes).unwrap(), 0o100644).unwrap();
                }
            }
        }
        for (dir, sub) in dirs {
            b.insert(dir, libgit2_tree(repo, &sub), 0o040000).unwrap();
        }
        b.write().unwrap()
    }

    #[test]
    fn ids_and_order_match_libgit2() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        // The folder `a` sorts as `a/`: after `a-b` and `a.yaml`, before `a0`.
        let pairs: [(&str, &[u8]); 6] = [
            ("a/x.yaml", b"x: 1\n"),
            ("a-b", b"dash\n"),
            ("a.yaml", b"dot\n"),
            ("a0", b"zero\n"),
            ("b/c/d.yaml", b""),
            ("README.md", b"# r\n"),
        ];
        let tree = MemTree::build(&files(&pairs)).unwrap();
        // Computing ids wrote nothing.
        assert!(!repo.odb().unwrap().exists(tree.id()));
        assert_eq!(tree.id(), libgit2_tree(&repo, &pairs));
    }

    #[test]
    fn tree_objects_from_entries_match_libgit2() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let blob = repo.blob(b"x\n").unwrap();
        let sub = libgit2_tree(&repo, &[("k.yaml", b"k\n")]);
        let mut b = repo.treebuilder(None).unwrap();
        let entries: Vec<(Vec<u8>, Oid, i32)> = vec![
            (b"a0".to_vec(), blob, 0o100644),
            (b"a".to_vec(), sub, 0o040000),
            (b"a.yaml".to_vec(), blob, 0o100755),
            (b"link".to_vec(), blob, 0o120000),
            (b"a-b".to_vec(), sub, 0o040000),
        ];
        for (name, id, mode) in &entries {
            b.insert(std::str::from_utf8(name).unwrap(), *id, *mode)
                .unwrap();
        }
        assert_eq!(tree_object(entries).unwrap().id, b.write().unwrap());
    }

    #[test]
    fn only_missing_objects_are_packed() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let odb = repo.odb().unwrap();
        let f = files(&[
            ("a/x.yaml", b"x\n"),
            ("a/y.yaml", b"x\n"),
            ("b.yaml", b"b\n"),
        ]);
        let tree = MemTree::build(&f).unwrap();
        // Root, folder a, one blob shared by two paths, b.yaml.
        assert_eq!(tree.missing(&odb).unwrap().len(), 4);
        assert_eq!(
            write_missing(&repo, tree.missing(&odb).unwrap()).unwrap(),
            4
        );
        assert!(tree.missing(&odb).unwrap().is_empty());
        assert_eq!(write_missing(&repo, [&tree.object]).unwrap(), 0);
        let t = repo.find_tree(tree.id()).unwrap();
        assert_eq!(t.len(), 2);
        // One changed file: the new blob, the root and the folder above it.
        let f2 = files(&[
            ("a/x.yaml", b"x\n"),
            ("a/y.yaml", b"y\n"),
            ("b.yaml", b"b\n"),
        ]);
        let tree2 = MemTree::build(&f2).unwrap();
        let missing: Vec<Oid> = tree2.missing(&odb).unwrap().iter().map(|o| o.id).collect();
        assert_eq!(missing.len(), 3);
        assert!(!missing.contains(&tree.id()));
    }
}
