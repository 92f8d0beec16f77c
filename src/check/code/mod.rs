//! Rule codes: one enum per family, each code with its documentation as data beside it (what the rule
//! checks, why, a bad and a good example, its default severity). `docs/checks.md`, `openim-gitops rule`
//! and the SARIF rule entries are written from this data; a [`Finding`](super::Finding) cannot be built
//! without a [`Code`].
//!
//! Codes are public API: a code's spelling is never reused or silently renamed, and `tests/check_codes.rs`
//! snapshots the list. A user policy's violations have codes of their own (`policy/<name>`,
//! [`Code::User`]); they are documented in the policy files that define them.

mod images;
mod load;
mod netpol;
mod policy;
mod refs;
mod resources;
mod schema;
mod secrets;

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use super::Severity;

pub use images::Images;
pub use load::Load;
pub use netpol::Netpol;
pub use policy::Policy;
pub use refs::Refs;
pub use resources::Resources;
pub use schema::Schema;
pub use secrets::Secrets;

/// What a rule checks and why, as `docs/checks.md` and `openim-gitops rule` show it.
#[derive(Debug)]
pub struct Doc {
    /// `family/name`.
    pub code: &'static str,
    pub default_severity: Severity,
    /// One line, no full stop.
    pub summary: &'static str,
    /// What the rule checks (Markdown, one or more paragraphs).
    pub what: &'static str,
    /// Why it matters.
    pub why: &'static str,
    /// A bad example. It begins with its label, which may say when it applies (`Bad (release): ...`).
    pub bad: &'static str,
    /// The good counterpart, labelled the same way (`Good: ...`).
    pub good: &'static str,
}

impl Doc {
    /// The family: the part of the code before `/`.
    pub fn family(&self) -> &'static str {
        self.code.split_once('/').map_or(self.code, |(f, _)| f)
    }

    /// The documentation as Markdown: the summary with the default severity, then what, why, bad and
    /// good, a paragraph each.
    pub fn markdown(&self) -> String {
        format!(
            "{}. Default severity: {}.\n\n{}\n\nWhy: {}\n\n{}\n{}\n",
            self.summary,
            self.default_severity.as_str(),
            self.what,
            self.why,
            self.bad,
            self.good
        )
    }
}

/// The JSON form (`openim-gitops rule --format json`): code, family, default severity, summary, what,
/// why, bad, good.
impl serde::Serialize for Doc {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("Doc", 8)?;
        m.serialize_field("code", self.code)?;
        m.serialize_field("family", self.family())?;
        m.serialize_field("default_severity", self.default_severity.as_str())?;
        m.serialize_field("summary", self.summary)?;
        m.serialize_field("what", self.what)?;
        m.serialize_field("why", self.why)?;
        m.serialize_field("bad", self.bad)?;
        m.serialize_field("good", self.good)?;
        m.end()
    }
}

/// Declares a family: its enum, the documentation of each code, and the conversion into [`Code`].
macro_rules! family {
    (
        $(#[$meta:meta])*
        $enum:ident = $family:literal {
            $(
                $variant:ident = $name:literal, $severity:ident {
                    summary: $summary:expr,
                    what: $what:expr,
                    why: $why:expr,
                    bad: $bad:expr,
                    good: $good:expr $(,)?
                },
            )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $enum {
            $($variant,)*
        }

        impl $enum {
            /// Every code of the family, in code order.
            pub const ALL: &'static [$enum] = &[$($enum::$variant,)*];

            /// The code's documentation.
            pub const fn doc(self) -> &'static Doc {
                const DOCS: &[Doc] = &[$(Doc {
                    code: concat!($family, "/", $name),
                    default_severity: crate::check::Severity::$severity,
                    summary: $summary,
                    what: $what,
                    why: $why,
                    bad: $bad,
                    good: $good,
                },)*];
                &DOCS[self as usize]
            }
        }

        impl From<$enum> for super::Code {
            fn from(c: $enum) -> super::Code {
                super::Code::$enum(c)
            }
        }
    };
}
use family;

/// A rule code: a built-in rule's, or a user policy's (`policy/<name>`). Codes order and compare as
/// their text.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    Images(Images),
    Load(Load),
    Netpol(Netpol),
    Policy(Policy),
    Refs(Refs),
    Resources(Resources),
    Schema(Schema),
    Secrets(Secrets),
    /// A violation of a user policy: `policy/<name>`, with the name the policy file, admission policy
    /// or Rego file gives it.
    User(UserCode),
}

/// The code of a user policy, `policy/<name>`. Made once per name and kept for the whole run, so that
/// a [`Code`] stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserCode(&'static str);

impl UserCode {
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

impl Code {
    /// Every built-in code, in code order.
    pub fn all() -> impl Iterator<Item = Code> {
        builtins().iter().copied()
    }

    /// The built-in code spelled `text`, if there is one.
    pub fn builtin(text: &str) -> Option<Code> {
        let all = builtins();
        all.binary_search_by(|c| c.as_str().cmp(text))
            .ok()
            .map(|i| all[i])
    }

    /// The code of the user policy `name`: `policy/<name>`. A name that spells a built-in code gives
    /// that code (the policy file refuses such a policy when it is read).
    pub fn user(name: &str) -> Code {
        let text = format!("policy/{name}");
        Code::builtin(&text).unwrap_or_else(|| Code::User(UserCode(intern(&text))))
    }

    /// The documentation of a built-in code; `None` for a user policy's.
    pub const fn doc(self) -> Option<&'static Doc> {
        Some(match self {
            Code::Images(c) => c.doc(),
            Code::Load(c) => c.doc(),
            Code::Netpol(c) => c.doc(),
            Code::Policy(c) => c.doc(),
            Code::Refs(c) => c.doc(),
            Code::Resources(c) => c.doc(),
            Code::Schema(c) => c.doc(),
            Code::Secrets(c) => c.doc(),
            Code::User(_) => return None,
        })
    }

    /// `family/name`.
    pub fn as_str(self) -> &'static str {
        match self {
            Code::User(u) => u.as_str(),
            c => c.doc().map_or("", |d| d.code),
        }
    }

    /// The family: `images`, ..., `policy` (user policies' codes included).
    pub fn family(self) -> &'static str {
        let s = self.as_str();
        s.split_once('/').map_or(s, |(f, _)| f)
    }

    /// The default severity of a built-in code; `None` for a user policy's (its policy says).
    pub fn default_severity(self) -> Option<Severity> {
        self.doc().map(|d| d.default_severity)
    }

    /// The built-in code nearest to `text` (a misspelling of it), if one is near enough.
    pub fn nearest(text: &str) -> Option<Code> {
        Code::all()
            .map(|c| (edit_distance(text, c.as_str()), c))
            .filter(|&(d, c)| d <= c.as_str().len().max(text.len()) / 3)
            .min_by_key(|&(d, c)| (d, c))
            .map(|(_, c)| c)
    }
}

impl PartialOrd for Code {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Code {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({})", self.as_str())
    }
}

impl serde::Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Every built-in code, in code order, gathered once.
fn builtins() -> &'static [Code] {
    static ALL: OnceLock<Vec<Code>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut all: Vec<Code> = Images::ALL
            .iter()
            .map(|&c| Code::from(c))
            .chain(Load::ALL.iter().map(|&c| c.into()))
            .chain(Netpol::ALL.iter().map(|&c| c.into()))
            .chain(Policy::ALL.iter().map(|&c| c.into()))
            .chain(Refs::ALL.iter().map(|&c| c.into()))
            .chain(Resources::ALL.iter().map(|&c| c.into()))
            .chain(Schema::ALL.iter().map(|&c| c.into()))
            .chain(Secrets::ALL.iter().map(|&c| c.into()))
            .collect();
        all.sort();
        all
    })
}

/// User policies' codes live as long as the process: each is made `'static` once.
fn intern(code: &str) -> &'static str {
    static CODES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let mut set = CODES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(c) = set.get(code) {
        return c;
    }
    let c: &'static str = Box::leak(code.to_string().into_boxed_str());
    set.insert(c);
    c
}

/// The Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_reads_back_from_its_text() {
        for c in Code::all() {
            assert_eq!(Code::builtin(c.as_str()), Some(c));
            assert_eq!(c.doc().map(|d| d.code), Some(c.as_str()));
        }
        assert_eq!(Code::builtin("policy/no-such"), None);
        // Each family declares its codes in code order, so `ALL` and `Code::all` agree.
        let texts = |all: &[Code]| all.iter().map(|c| c.as_str()).collect::<Vec<_>>();
        let netpol: Vec<Code> = Netpol::ALL.iter().map(|&c| c.into()).collect();
        let mut sorted = texts(&netpol);
        sorted.sort();
        assert_eq!(texts(&netpol), sorted);
        let all: Vec<Code> = Code::all().collect();
        assert!(all.windows(2).all(|w| w[0].as_str() < w[1].as_str()));
        assert_eq!(all.len(), 61);
    }

    #[test]
    fn the_documentation_survives_the_redaction_of_every_output() {
        // Everything printed goes through `redact::message`: a doc that shows a URL with a password
        // or a real token's shape would be printed differently than docs/checks.md has it.
        for d in Code::all().filter_map(Code::doc) {
            for text in [d.summary, d.what, d.why, d.bad, d.good] {
                assert_eq!(crate::check::redact::message(text), text, "{}", d.code);
            }
        }
    }

    #[test]
    fn a_user_code_is_the_same_code_each_time() {
        let a = Code::user("replica-cap");
        assert_eq!(a, Code::user("replica-cap"));
        assert_eq!(a.as_str(), "policy/replica-cap");
        assert_eq!(a.family(), "policy");
        assert!(a.doc().is_none());
        // A user policy named like a built-in code is that code.
        assert_eq!(
            Code::user("broken-policy"),
            Code::Policy(Policy::BrokenPolicy)
        );
    }

    #[test]
    fn the_nearest_code_is_suggested() {
        assert_eq!(
            Code::nearest("netpol/allow-al").map(Code::as_str),
            Some("netpol/allow-all")
        );
        assert_eq!(
            Code::nearest("resources/missing-limit").map(Code::as_str),
            Some("resources/missing-limits")
        );
        assert_eq!(Code::nearest("completely/unrelated-words-here"), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
