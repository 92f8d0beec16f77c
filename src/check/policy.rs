//! What the checks are told by `policies/`: severities per environment, allowlists, objects that exist
//! outside the rendered tree, and waivers. This file holds the resolved form for one environment; the
//! policy files and their schema are read in `policy_file.rs`.

use std::collections::BTreeMap;

use crate::check::Severity;
use crate::node::Origin;

/// An object the rendered tree may refer to without rendering it (made by an operator or another team).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct External {
    pub kind: String,
    pub name: String,
    /// Empty: any namespace.
    pub namespace: String,
    /// Keys known to exist in it (Secrets, ConfigMaps); empty: any key.
    pub keys: Vec<String>,
}

/// A NetworkPolicy that may open traffic to or from everything (an `ipBlock` of `0.0.0.0/0`, a rule
/// without peers, a lone `namespaceSelector: {}`): `netpol/allow-all` stays quiet about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowAll {
    pub name: String,
    /// Empty: any namespace.
    pub namespace: String,
    /// The policy-file line that allows it.
    pub origin: Option<Origin>,
}

/// The policy in force for one environment.
#[derive(Clone, Debug, Default)]
pub struct Policy {
    /// Rule code -> severity (or `None`: the rule is off), with the policy line that set it.
    pub severities: BTreeMap<String, (Option<Severity>, Option<Origin>)>,
    /// Registries (prefixes such as `ghcr.io/openimsdk/` or `docker.io/library/`) images may come from;
    /// empty: any registry.
    pub allowed_registries: Vec<String>,
    /// Objects that exist outside the rendered tree.
    pub external: Vec<External>,
    /// Kinds with no vendored schema that are allowed anyway.
    pub allowed_kinds: Vec<String>,
    /// Whether the environment asks for high availability (replicas, PodDisruptionBudgets, spreading).
    pub high_availability: bool,
    /// Whether third-party images must be pinned by digest (not only by tag).
    pub require_digests: bool,
    /// NetworkPolicies allowed to open traffic wide.
    pub allow_all: Vec<AllowAll>,
}
