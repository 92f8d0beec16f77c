//! Container images: parsing references, the `images` rewrites of a layer, and setting the tag of the
//! images an environment owns (the seam the tag rules use).

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::load::layer::{ImageRule, Spanned};
use crate::node::{Node, Origin, Value};
use crate::resource::Resource;

pub use crate::k8s::image::ImageRef;
use crate::k8s::workload::CONTAINER_LISTS;

/// Calls `f` on every container `image` node of a workload.
pub fn for_each_image_mut(
    r: &mut Resource,
    f: &mut dyn FnMut(&mut Node) -> Result<()>,
) -> Result<()> {
    let Some(spec) = r.pod_spec_mut() else {
        return Ok(());
    };
    for list in CONTAINER_LISTS {
        if let Some(items) = spec.get_mut(list).and_then(Node::as_seq_mut) {
            for c in items {
                if let Some(image) = c.get_mut("image") {
                    f(image)?;
                }
            }
        }
    }
    Ok(())
}

/// Every container `image` node of a workload, with the container's name.
pub fn images(r: &Resource) -> Vec<(&str, &Node)> {
    let mut out = Vec::new();
    let Some(spec) = r.pod_spec() else {
        return out;
    };
    for list in CONTAINER_LISTS {
        for c in spec.get(list).and_then(Node::as_seq).unwrap_or(&[]) {
            if let Some(image) = c.get("image") {
                out.push((c.str_at(&["name"]).unwrap_or(""), image));
            }
        }
    }
    out
}

/// Applies a layer's `images` entries, in order, to every container; an entry that matches no container
/// is an error. One pass over the containers, whatever the number of entries.
pub fn apply_rules(resources: &mut [Resource], rules: &[ImageRule]) -> Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, rule) in rules.iter().enumerate() {
        by_name.entry(rule.name.value.as_str()).or_default().push(i);
    }
    let mut matched = vec![false; rules.len()];
    for r in resources.iter_mut() {
        for_each_image_mut(r, &mut |image| {
            let Some(text) = image.as_str() else {
                return Ok(());
            };
            let mut parsed = ImageRef::parse(text);
            let mut origin = image.origin;
            let mut next = 0;
            // Entries apply in order; one may rename an image into the name a later one matches.
            while let Some(&i) = by_name
                .get(parsed.name.as_str())
                .and_then(|list| list.iter().find(|&&i| i >= next))
            {
                let rule = &rules[i];
                matched[i] = true;
                if let Some(n) = &rule.new_name {
                    parsed.name = n.value.clone();
                    origin = n.origin;
                }
                if let Some(t) = &rule.new_tag {
                    parsed.tag = Some(t.value.clone());
                    origin = t.origin;
                }
                if let Some(d) = &rule.digest {
                    parsed.digest = Some(d.value.clone());
                    origin = d.origin;
                }
                next = i + 1;
            }
            if next > 0 {
                *image = Node::new(Value::Str(parsed.to_text()), origin);
            }
            Ok(())
        })?;
    }
    if let Some(i) = matched.iter().position(|m| !m) {
        let rule = &rules[i];
        return Err(Error::at(
            rule.name.origin,
            format!("no container uses the image `{}`", rule.name.value),
        )
        .label("this image")
        .help("name the image as the resources write it, without tag or digest"));
    }
    Ok(())
}

/// Sets `tag` on every owned image (keeping a pinned digest out: a retagged image drops its digest).
/// Returns how many containers were retagged; an owned image no container uses is an error.
pub fn set_owned_tag(
    resources: &mut [Resource],
    owned: &[Spanned<String>],
    tag: &str,
    origin: Origin,
) -> Result<usize> {
    let mut used = vec![false; owned.len()];
    let mut count = 0;
    for r in resources.iter_mut() {
        for_each_image_mut(r, &mut |image| {
            let Some(text) = image.as_str() else {
                return Ok(());
            };
            let mut parsed = ImageRef::parse(text);
            if let Some(i) = owned.iter().position(|o| parsed.is_named(&o.value)) {
                used[i] = true;
                parsed.tag = Some(tag.to_string());
                parsed.digest = None;
                *image = Node::new(Value::Str(parsed.to_text()), origin);
                count += 1;
            }
            Ok(())
        })?;
    }
    if let Some(i) = used.iter().position(|u| !u) {
        return Err(Error::at(
            owned[i].origin,
            format!(
                "the environment owns the image `{}`, but no container uses it",
                owned[i].value
            ),
        )
        .label("this image"));
    }
    Ok(count)
}
