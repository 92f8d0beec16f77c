//! Every use of git2 lives under this module; the rest of the program sees plain types.

mod facts;

pub use facts::*;
