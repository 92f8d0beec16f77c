//! The `load/` family: what reading manifest files given as PATHS found wrong. The load stage
//! (`load::manifests`) finds these problems; this file gives them their codes (documented in
//! `check::code`) and turns them into findings. Environments never produce them: a bad input there stops the
//! render, since nothing partial may be rendered.

use crate::check::code::Load;
use crate::check::Finding;
use crate::load::manifests::{Problem, ProblemKind};

/// The code of a load problem.
pub fn code(kind: ProblemKind) -> Load {
    match kind {
        ProblemKind::InvalidYaml => Load::InvalidYaml,
        ProblemKind::NotAnObject => Load::NotAnObject,
        ProblemKind::HelmTemplate => Load::HelmTemplate,
        ProblemKind::DuplicateObject => Load::DuplicateObject,
    }
}

/// A load problem as a finding, at its rule's default severity (the policy may change it later).
pub fn finding(p: &Problem) -> Finding {
    let mut f = Finding::of(code(p.kind), p.origin, p.message.clone()).about(p.resource.clone());
    f.related = p.related.clone();
    f.help = p.help.clone();
    f
}
