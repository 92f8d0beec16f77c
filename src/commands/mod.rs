//! Command bodies that grew too large for `lib.rs`: `render --rev/--commit/--push`, `diff`, `netmap`,
//! and the generated `completions` and `man`.

pub mod commit;
pub mod diff;
pub mod netmap;
pub mod shell;

use std::io::Write;

use crate::error::{Error, Result};

/// Everything printed goes through the redaction rule's last net (URL credentials, known tokens).
fn write(out: &mut dyn Write, text: &str) -> Result<()> {
    out.write_all(crate::redact::message(text).as_bytes())
        .map_err(|source| Error::Write {
            path: "standard output".into(),
            source,
        })
}

/// The first 12 characters of a commit id.
fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
