//! `rule`: a built-in rule's documentation, from the data each code carries (`check::code`), as
//! `docs/checks.md` shows it; `--all` lists every rule. A user policy's code is documented by the policy
//! that defines it, so only built-in codes are known here.

use std::io::Write;

use crate::check::{Code, Doc};
use crate::cli::{RuleArgs, RuleFormat};
use crate::error::{Error, Result};

use super::{json_text, write, Status};

pub fn run(args: &RuleArgs, out: &mut dyn Write) -> Result<Status> {
    let docs: Vec<&Doc> = match &args.code {
        Some(text) => vec![find(text)?],
        None => Code::all().filter_map(Code::doc).collect(),
    };
    let text = match (args.format, args.all) {
        (RuleFormat::Json, true) => json_text(&docs),
        (RuleFormat::Json, false) => json_text(&docs[0]),
        (RuleFormat::Human, true) => {
            let width = docs.iter().map(|d| d.code.len()).max().unwrap_or(0);
            docs.iter()
                .map(|d| {
                    format!(
                        "{:width$}  {:7}  {}\n",
                        d.code,
                        d.default_severity.as_str(),
                        d.summary
                    )
                })
                .collect()
        }
        (RuleFormat::Human, false) => format!("# {}\n\n{}", docs[0].code, docs[0].markdown()),
    };
    write(out, &text)?;
    Ok(Status::Clean)
}

/// The documentation of the built-in code spelled `text`, or a usage error naming the nearest one.
fn find(text: &str) -> Result<&'static Doc> {
    if let Some(doc) = Code::builtin(text).and_then(Code::doc) {
        return Ok(doc);
    }
    let list = "`openim-gitops rule --all` lists every code";
    let help = match Code::nearest(text) {
        Some(near) => format!("did you mean `{near}`? {list}"),
        None if text.starts_with("policy/") => format!(
            "a user policy's code (policy/<name>) is documented by the policy that defines it; {list}"
        ),
        None => list.to_string(),
    };
    Err(Error::usage(format!("`{text}` is not a rule code")).help(help))
}
