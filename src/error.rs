//! Tool failures: bad input, unreadable files, git errors, bad flags. Findings of the checks are not errors;
//! they are data (`check::Finding`). Every error that concerns a place in a file carries its [`Origin`], and
//! `diagnostics` turns it into a report with the source line.

use std::path::PathBuf;

use crate::node::Origin;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A message about a place in a file, with optional further places ("first defined here").
#[derive(Debug, Clone)]
pub struct Located {
    pub message: String,
    pub origin: Origin,
    pub label: String,
    pub help: Option<String>,
    pub related: Vec<(Origin, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that is wrong at a known place.
    #[error("{}", .0.message)]
    At(Box<Located>),
    /// Several such errors, reported together (all bad files at once, not only the first).
    #[error("{} errors", .0.len())]
    Many(Vec<Error>),
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Wrong use of the command line, or input that is missing as a whole.
    #[error("{message}")]
    Usage {
        message: String,
        help: Option<String>,
    },
    #[error("git: {0}")]
    Git(String),
    /// Input that is well formed but breaks a rule (an image tag against its environment's rule):
    /// exit code 1, not 2.
    #[error("{0}")]
    Refused(Box<Error>),
}

impl Error {
    pub fn at(origin: Origin, message: impl Into<String>) -> Self {
        let message = message.into();
        Error::At(Box::new(Located {
            label: String::new(),
            message,
            origin,
            help: None,
            related: Vec::new(),
        }))
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::Usage {
            message: message.into(),
            help: None,
        }
    }

    /// Adds a label to the primary place (`At` only).
    pub fn label(mut self, label: impl Into<String>) -> Self {
        if let Error::At(l) = &mut self {
            l.label = label.into();
        }
        self
    }

    /// Adds a hint to the error.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        match &mut self {
            Error::At(l) => l.help = Some(help.into()),
            Error::Usage { help: h, .. } => *h = Some(help.into()),
            _ => {}
        }
        self
    }

    /// Adds a second place to the error.
    pub fn related(mut self, origin: Origin, label: impl Into<String>) -> Self {
        if let Error::At(l) = &mut self {
            l.related.push((origin, label.into()));
        }
        self
    }

    /// The hint given with the error, if any.
    pub fn help_text(&self) -> Option<&str> {
        match self {
            Error::At(l) => l.help.as_deref(),
            Error::Usage { help, .. } => help.as_deref(),
            Error::Refused(inner) => inner.help_text(),
            _ => None,
        }
    }

    /// Exit code 1 (a rule refused it) rather than 2 (a tool or usage failure).
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::Refused(_) => true,
            Error::Many(all) => all.iter().all(Error::is_refusal),
            _ => false,
        }
    }

    /// Folds a list of errors into one, or `Ok` if there are none.
    pub fn collect(mut errors: Vec<Error>) -> Result<()> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Error::Many(errors)),
        }
    }
}
