//! Snapshots: compare a text with a checked-in file; `UPDATE_SNAPSHOTS=1` rewrites the file instead.

use std::path::Path;

/// Asserts that `path` holds `actual`, or writes it when `UPDATE_SNAPSHOTS=1`.
pub fn assert_snapshot(path: &Path, actual: &str) {
    let update = std::env::var_os("UPDATE_SNAPSHOTS").is_some_and(|v| v == "1");
    let expected = std::fs::read_to_string(path).ok();
    if update {
        if expected.as_deref() != Some(actual) {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).expect("create the snapshot folder");
            }
            std::fs::write(path, actual).expect("write the snapshot");
        }
        return;
    }
    match expected {
        None => panic!(
            "no snapshot at {}; run with UPDATE_SNAPSHOTS=1 to create it. Actual:\n{actual}",
            path.display()
        ),
        Some(e) if e != actual => {
            let diff = similar::TextDiff::from_lines(e.as_str(), actual)
                .unified_diff()
                .header("expected", "actual")
                .to_string();
            panic!(
                "snapshot {} differs (UPDATE_SNAPSHOTS=1 rewrites it):\n{diff}",
                path.display()
            );
        }
        Some(_) => {}
    }
}
