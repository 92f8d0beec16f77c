//! A finding: what a rule reports. Built only by [`Finding::new`], which takes its [`Code`]; the code
//! cannot be changed afterwards (the policy changes the severity, never the code).

use crate::check::{Code, Severity};
use crate::node::Origin;
use crate::resource::ResId;

/// One problem a rule found. The message never contains a secret's value.
#[derive(Clone, Debug)]
pub struct Finding {
    code: Code,
    pub severity: Severity,
    pub message: String,
    /// Where to fix it.
    pub origin: Origin,
    /// The object it is about, if any.
    pub resource: Option<ResId>,
    /// Further places: the policy line, the overlay line involved, the other half of a pair.
    pub related: Vec<(Origin, String)>,
    pub help: Option<String>,
}

impl Finding {
    /// A finding of `code` at `severity`, with no object, further places or help yet.
    pub fn new(
        code: impl Into<Code>,
        severity: Severity,
        origin: Origin,
        message: String,
    ) -> Finding {
        Finding {
            code: code.into(),
            severity,
            message,
            origin,
            resource: None,
            related: Vec::new(),
            help: None,
        }
    }

    /// A finding of a built-in code at its default severity.
    pub fn of(code: impl Into<Code>, origin: Origin, message: String) -> Finding {
        let code = code.into();
        let severity = code.default_severity().unwrap_or(Severity::Error);
        Finding::new(code, severity, origin, message)
    }

    pub fn code(&self) -> Code {
        self.code
    }

    /// The same finding, about `resource`.
    pub fn about(mut self, resource: Option<ResId>) -> Finding {
        self.resource = resource;
        self
    }
}

/// Builder helpers for findings.
pub trait FindingExt {
    fn help(self, help: impl Into<String>) -> Self;
    fn related(self, origin: Origin, label: impl Into<String>) -> Self;
}

impl FindingExt for Finding {
    fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
    fn related(mut self, origin: Origin, label: impl Into<String>) -> Self {
        self.related.push((origin, label.into()));
        self
    }
}
