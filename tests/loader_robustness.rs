//! Arbitrary input never panics the loader, the merge or the writer: it parses or fails with an error at a
//! place inside the file. (A cargo-fuzz target needs a nightly toolchain, which this project's machines do
//! not have; these generated inputs stand in for it and run in every `cargo test`.)

use openim_gitops::error::Error;
use openim_gitops::node::{FileRole, Sources};
use openim_gitops::overlay::{json_patch, merge};
use openim_gitops::render::emit;
use proptest::prelude::*;

/// The number of generated cases: `PROPTEST_CASES` when set (CI runs a longer search), else `default`.
fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Pieces that make YAML interesting: indicators, indentation, anchors, tags, quotes, documents.
fn yamlish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "a",
        "b",
        "key",
        ": ",
        ":",
        "- ",
        "-",
        "\n",
        "\n  ",
        "\n    ",
        "  ",
        "\t",
        "#c",
        "&x ",
        "*x",
        "!!str ",
        "!t ",
        "'",
        "\"",
        "|",
        "|-",
        ">",
        "[",
        "]",
        "{",
        "}",
        ", ",
        "? ",
        "---\n",
        "...\n",
        "<<: *x\n",
        "~",
        "null",
        "yes",
        "1",
        "0x1",
        "1e3",
        ".inf",
        "\\",
        "é",
        "即",
        "\u{85}",
        "\u{feff}",
        "%YAML 1.2\n",
        "$patch: delete",
        "apiVersion: v1\n",
        "kind: ConfigMap\n",
        "metadata:\n  name: x\n",
    ]);
    prop::collection::vec(atoms, 0..60).prop_map(|v| v.concat())
}

fn parse(
    text: &str,
) -> (
    Sources,
    Result<Vec<openim_gitops::load::yaml::Document>, Error>,
) {
    let mut sources = Sources::new();
    let id = sources.add(
        std::path::Path::new("fuzz.yaml"),
        text.into(),
        FileRole::Other,
    );
    let result = openim_gitops::load::yaml::parse(id, sources.get(id));
    (sources, result)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(2000), .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_parses_or_fails_at_a_place_in_the_file(text in yamlish()) {
        let (sources, result) = parse(&text);
        match result {
            Ok(docs) => {
                for d in docs {
                    let _ = openim_gitops::load::check_object(&d.root);
                    // Whatever parsed can be written and read back as the same tree.
                    let written = emit::document(&d.root);
                    let (_, again) = parse(&written);
                    let again = again.expect("our own output parses");
                    prop_assert_eq!(again[0].root.to_json(), d.root.to_json(), "{}", written);
                }
            }
            Err(Error::At(l)) => {
                let file = sources.get(l.origin.file);
                prop_assert!(l.origin.start as usize <= file.text.len());
                prop_assert!(l.origin.line >= 1);
            }
            Err(other) => prop_assert!(false, "unexpected error kind: {other}"),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse(&text);
    }

    #[test]
    fn merging_and_patching_arbitrary_documents_never_panics(a in yamlish(), b in yamlish()) {
        let (_, da) = parse(&a);
        let (_, db) = parse(&b);
        if let (Ok(da), Ok(db)) = (da, db) {
            for x in &da {
                for y in &db {
                    let mut t = x.root.clone();
                    let _ = merge::merge(&mut t, &y.root);
                    let mut t = x.root.clone();
                    if let Some(ops) = y.root.as_seq() {
                        let _ = json_patch::apply(&mut t, ops);
                    }
                }
            }
        }
    }
}
