//! A pull request is untrusted input: each test plants a value the attacker wants (the runner's
//! environment, `.git/config` credentials, a file outside the repository) and asserts the exit code, the
//! error's file and line, that nothing was written or deleted outside `--out`, and that the planted value
//! appears in no output. The threat model these tests hold is in `docs/security.md`.

mod common;

#[path = "hostile/crds.rs"]
mod crds;
#[path = "hostile/inputs.rs"]
mod inputs;
#[path = "hostile/limits.rs"]
mod limits;
#[path = "hostile/outputs.rs"]
mod outputs;
#[path = "hostile/provenance.rs"]
mod provenance;
#[path = "hostile/redaction.rs"]
mod redaction;
#[path = "hostile/support.rs"]
mod support;
