//! Writing rendered trees to disk, confined to the output folder.
//!
//! [`OutDir`] is the output folder of a run: it refuses a folder that is, holds or sits inside the
//! sources (the environments root, the policies, `.git`), and writes each environment's tree to
//! `<out>/<env>` only when that is absent or already a rendered tree. [`write_tree`] replaces one folder
//! with a tree as a whole: it writes a sibling staging folder and swaps it in with one atomic
//! `renameat2(RENAME_EXCHANGE)` on Linux; elsewhere (or on a file system without it) with two renames,
//! whose kill gap the next run closes by putting the retired tree back.

use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

use super::{Tree, METADATA_FILE};

/// The output folder of a run.
#[derive(Clone, Debug)]
pub struct OutDir {
    dir: PathBuf,
}

impl OutDir {
    /// `dir` as the output folder, refused when it is, holds or sits inside one of `sources` (the
    /// environments root, the policies) or a `.git` folder. Nothing is created or deleted here.
    pub fn new(dir: &Path, sources: &[&Path]) -> Result<OutDir> {
        let real = resolved(dir);
        let refuse = |what: &str| {
            Err(Error::usage(format!(
                "--out `{}` {what}: rendering there would replace sources",
                crate::node::display_path(dir)
            ))
            .help("render into a folder of its own, such as rendered/"))
        };
        if real
            .components()
            .any(|c| matches!(c, Component::Normal(n) if n.eq_ignore_ascii_case(".git")))
        {
            return refuse("is inside a `.git` folder");
        }
        if real.join(".git").exists() {
            return refuse("holds a `.git` folder");
        }
        for source in sources {
            let source = resolved(source);
            if source == real {
                return refuse(&format!(
                    "is the source folder `{}`",
                    crate::node::display_path(&source)
                ));
            }
            if source.starts_with(&real) {
                return refuse(&format!(
                    "holds the source folder `{}`",
                    crate::node::display_path(&source)
                ));
            }
            if real.starts_with(&source) {
                return refuse(&format!(
                    "is inside the source folder `{}`",
                    crate::node::display_path(&source)
                ));
            }
        }
        Ok(OutDir {
            dir: dir.to_path_buf(),
        })
    }

    /// Where an environment's tree goes.
    pub fn env_dir(&self, env: &str) -> PathBuf {
        self.dir.join(env)
    }

    /// Replaces `<out>/<env>` with `tree`, refusing (nothing deleted) when it holds anything but a
    /// rendered tree.
    pub fn write(&self, env: &str, tree: &Tree) -> Result<PathBuf> {
        let dir = self.env_dir(env);
        if let Some(why) = not_rendered(&dir) {
            return Err(Error::usage(format!(
                "`{}` {why}, so it is not a rendered tree; nothing was replaced",
                crate::node::display_path(&dir)
            ))
            .help("move it away, or choose another --out"));
        }
        write_tree(tree, &dir)?;
        Ok(dir)
    }
}

/// A path made absolute, with its longest existing prefix resolved on disk (links followed).
fn resolved(path: &Path) -> PathBuf {
    let abs = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    let abs = crate::load::normalize(&abs);
    abs.ancestors()
        .find_map(|prefix| {
            let real = prefix.canonicalize().ok()?;
            Some(real.join(abs.strip_prefix(prefix).ok()?))
        })
        .unwrap_or(abs)
}

/// Why `dir` is not a folder this tool may replace, or `None` when it is absent, empty or a rendered
/// tree: the metadata file at its top and nothing but folders and `.yaml` files below.
fn not_rendered(dir: &Path) -> Option<String> {
    let meta = match fs::symlink_metadata(dir) {
        Err(_) => return None,
        Ok(m) => m,
    };
    if meta.file_type().is_symlink() {
        return Some("is a symbolic link".into());
    }
    if !meta.is_dir() {
        return Some("is a file".into());
    }
    let mut any = false;
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let Ok(entry) = entry else {
            return Some("cannot be read".into());
        };
        any = true;
        let ft = entry.file_type();
        let name = entry.file_name().to_string_lossy();
        if ft.is_dir() {
            continue;
        }
        let ours = ft.is_file()
            && (name.ends_with(".yaml") || (entry.depth() == 1 && name == METADATA_FILE));
        if !ours {
            return Some(format!(
                "holds `{}`",
                entry
                    .path()
                    .strip_prefix(dir)
                    .unwrap_or(entry.path())
                    .display()
            ));
        }
    }
    if any && !dir.join(METADATA_FILE).is_file() {
        return Some(format!("has no {METADATA_FILE}"));
    }
    None
}

/// The sibling folders a swap uses for `dir`.
fn siblings(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf)> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::usage(format!("`{}` is not a folder name", dir.display())))?;
    let staging = parent.join(format!(".{name}.openim-gitops-new"));
    let retired = parent.join(format!(".{name}.openim-gitops-old"));
    Ok((parent, staging, retired))
}

fn write_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Removes a leftover of an earlier run, folder or file.
fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(_) => Ok(()),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(write_error(path)),
        Ok(_) => fs::remove_file(path).map_err(write_error(path)),
    }
}

/// Replaces `dir` with `tree` as a whole: a failure or a kill at any point leaves either the old tree or
/// the new one at `dir` (or, on the two-rename fallback, the old one beside it, put back by the next
/// run). Files of resources that no longer exist disappear.
///
/// Incremental: when `dir` already holds exactly `tree`, nothing is written at all; otherwise a file
/// whose bytes are unchanged is a hard link to the old one (same inode, same modification time) in the
/// staging folder, and only changed or new files are written.
pub fn write_tree(tree: &Tree, dir: &Path) -> Result<()> {
    let (parent, staging, retired) = siblings(dir)?;
    fs::create_dir_all(&parent).map_err(write_error(&parent))?;
    recover(dir, &staging, &retired)?;
    check_paths(tree)?;
    let same = unchanged_files(tree, dir);
    if same.iter().all(|s| *s) && holds_only(dir, tree) {
        return Ok(());
    }
    let result = fs::create_dir(&staging)
        .map_err(write_error(&staging))
        .and_then(|()| write_files(tree, &staging, dir, &same));
    if let Err(e) = result {
        let _ = remove_any(&staging);
        return Err(e);
    }
    swap(&staging, dir, &retired)
}

/// Leftovers of an interrupted run: a retired tree with no tree in its place (killed between the two
/// renames of the fallback) goes back; a staging folder, or a retired tree beside a current one, goes.
fn recover(dir: &Path, staging: &Path, retired: &Path) -> Result<()> {
    let dir_present = fs::symlink_metadata(dir).is_ok();
    if !dir_present && retired.is_dir() && not_rendered(retired).is_none() {
        fs::rename(retired, dir).map_err(write_error(dir))?;
    }
    remove_any(staging)?;
    remove_any(retired)
}

/// Puts `staging` in `dir`'s place.
fn swap(staging: &Path, dir: &Path, retired: &Path) -> Result<()> {
    if fs::symlink_metadata(dir).is_err() {
        return fs::rename(staging, dir).map_err(|source| {
            let _ = remove_any(staging);
            Error::Write {
                path: dir.to_path_buf(),
                source,
            }
        });
    }
    if exchange(staging, dir).is_ok() {
        // `staging` now holds the old tree.
        let _ = remove_any(staging);
        return Ok(());
    }
    fs::rename(dir, retired).map_err(write_error(dir))?;
    if let Err(source) = fs::rename(staging, dir) {
        let _ = fs::rename(retired, dir);
        let _ = remove_any(staging);
        return Err(Error::Write {
            path: dir.to_path_buf(),
            source,
        });
    }
    let _ = remove_any(retired);
    Ok(())
}

/// Swaps two paths atomically.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let a = CString::new(a.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    let b = CString::new(b.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: both are valid NUL-terminated paths that live across the call; AT_FDCWD resolves them as
    // `rename` would.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// No atomic exchange here: the caller falls back to two renames.
#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Every path must be relative and plain (no `..`, no root): the render stage builds them from checked
/// names, and this holds even if it did not.
fn check_paths(tree: &Tree) -> Result<()> {
    for rel in tree.files.keys() {
        let plain = !rel.is_empty()
            && Path::new(rel)
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
            && !rel.contains(['\0', '\\']);
        if !plain {
            return Err(Error::usage(format!(
                "refusing to write {rel:?}: a rendered path must stay inside the output folder"
            )));
        }
    }
    Ok(())
}

/// How many threads touch files: creating, linking and reading many small files is bound by the file
/// system's latency rather than by the CPU.
fn file_threads() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get() * 4)
        .unwrap_or(4)
        .clamp(1, 16)
}

/// For each file of `tree`, in order: whether `dir` holds it as a regular file with the same bytes.
fn unchanged_files(tree: &Tree, dir: &Path) -> Vec<bool> {
    let files: Vec<(&String, &Vec<u8>)> = tree.files.iter().collect();
    if !dir.is_dir() {
        return vec![false; files.len()];
    }
    let chunk = files.len().div_ceil(file_threads()).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .map(|(rel, bytes)| {
                            let path = dir.join(rel);
                            // Never through a link: only a file a render wrote counts.
                            fs::symlink_metadata(&path)
                                .is_ok_and(|m| m.is_file() && m.len() == bytes.len() as u64)
                                && fs::read(&path).is_ok_and(|old| old == **bytes)
                        })
                        .collect::<Vec<bool>>()
                })
            })
            .collect();
        let mut same = Vec::with_capacity(files.len());
        for h in handles {
            match h.join() {
                Ok(part) => same.extend(part),
                // Unknown: write every file.
                Err(_) => return vec![false; files.len()],
            }
        }
        same
    })
}

/// Whether `dir` holds no file (or link, or anything but folders) outside `tree`; called when every
/// file of `tree` was found there, so equal counts mean nothing else is there.
fn holds_only(dir: &Path, tree: &Tree) -> bool {
    let mut count = 0usize;
    for entry in walkdir::WalkDir::new(dir).min_depth(1) {
        let Ok(entry) = entry else {
            return false;
        };
        if entry.file_type().is_dir() {
            continue;
        }
        count += 1;
        if count > tree.files.len() {
            return false;
        }
    }
    count == tree.files.len()
}

/// Writes every file of a tree below `dir`: the folders first, then the files from a few threads. A
/// file marked unchanged is a hard link to its copy in `old` (written again where linking fails).
fn write_files(tree: &Tree, dir: &Path, old: &Path, same: &[bool]) -> Result<()> {
    let folders: std::collections::BTreeSet<PathBuf> = tree
        .files
        .keys()
        .filter_map(|rel| Path::new(rel).parent().map(|p| dir.join(p)))
        .collect();
    for f in &folders {
        fs::create_dir_all(f).map_err(write_error(f))?;
    }
    let files: Vec<((&String, &Vec<u8>), bool)> =
        tree.files.iter().zip(same.iter().copied()).collect();
    let chunk = files.len().div_ceil(file_threads()).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || -> Result<()> {
                    for ((rel, bytes), same) in part {
                        let path = dir.join(rel);
                        if *same && fs::hard_link(old.join(rel), &path).is_ok() {
                            continue;
                        }
                        fs::write(&path, bytes).map_err(|source| Error::Write { path, source })?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| Error::usage("a thread writing the rendered tree failed"))??;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The swap is one atomic exchange where the platform has it: both trees exist after it, swapped.
    #[cfg(target_os = "linux")]
    #[test]
    fn exchange_swaps_two_folders_in_one_step() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        fs::create_dir(&a).unwrap();
        fs::create_dir(&b).unwrap();
        fs::write(a.join("x"), "a").unwrap();
        fs::write(b.join("x"), "b").unwrap();
        exchange(&a, &b).unwrap();
        assert_eq!(fs::read_to_string(a.join("x")).unwrap(), "b");
        assert_eq!(fs::read_to_string(b.join("x")).unwrap(), "a");
    }

    #[test]
    fn a_path_that_leaves_the_folder_is_never_written() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["../x.yaml", "/abs.yaml", "a/../../x.yaml", "a\0b.yaml", ""] {
            let mut tree = Tree::default();
            tree.files.insert(bad.to_string(), b"x".to_vec());
            assert!(
                write_tree(&tree, &dir.path().join("out")).is_err(),
                "{bad:?}"
            );
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
