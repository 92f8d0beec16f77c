//! openim-gitops: a GitOps configuration compiler with policy checks for OpenIM on Kubernetes.
//!
//! The pipeline runs one way, one module per stage: [`load`] → [`overlay`] → tags → [`render`] → check →
//! diff → git. [`commands`] wires them together for each command and is the only code that reads the
//! command line ([`cli`]). [`run`] is the whole program; `main.rs` only maps its status to an exit code.

pub mod check;
pub mod cli;
pub mod commands;
pub mod diagnostics;
pub mod diff;
pub mod error;
pub mod explain;
pub mod git;
pub mod k8s;
pub mod load;
pub mod netmap;
pub mod node;
pub mod overlay;
pub mod pipeline;
pub mod render;
pub mod resource;
pub mod tags;

pub use commands::{run, Status};
