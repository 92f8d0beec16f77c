//! The one reading of Kubernetes objects that every stage shares: label selectors, the workloads'
//! pod templates and containers, NetworkPolicy semantics, CustomResourceDefinitions, quantities, names and image references. Where
//! two stages need the same fact about an object they ask here; they never parse it again. Nothing here
//! reports: a reading is data (an invalid value is a value the caller turns into a finding).

pub mod crd;
pub mod image;
pub mod names;
pub mod netpol;
pub mod quantity;
pub mod selector;
pub mod workload;

pub use selector::{labels, scalar_text, Labels, Selector, NAMESPACE_NAME_LABEL};
pub use workload::{
    containers, namespace_labels, namespaces, pods, pods_of, Container, ContainerPort, Pods,
};
