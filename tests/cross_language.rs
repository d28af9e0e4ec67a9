//! The product's promise on the public benchmark: themes follow the chapter,
//! not the language, also when languages cover different chapters.

mod common;

use crossthemes::bench::{self, read_gold};

#[test]
fn installguide_themes_cross_languages() {
    let Some(gold) = common::shared_path(
        "bench/installguide/gold.csv",
        "installguide_themes_cross_languages",
    ) else {
        return;
    };
    let gold = read_gold(&gold).unwrap();
    let texts: Vec<&str> = gold.iter().map(|g| g.text.as_str()).collect();
    let (embeddings, _) = common::embedder().embed(&texts, &|_| {}).unwrap();
    let rows = bench::theme_benchmark(&gold, &embeddings, 13, &[0.5, 0.1667], 1, 42).unwrap();
    let find = |variant: &str, debias: crossthemes::cluster::Debias| {
        rows.iter()
            .find(|r| r.variant.starts_with(variant) && r.debias == debias)
            .unwrap()
            .scores
    };
    use crossthemes::cluster::Debias;
    let plain = find("all", Debias::None);
    let joint = find("all", Debias::Joint);
    let imbalanced = find("0.50", Debias::Joint);
    let aligned = find("all", Debias::Align);
    let aligned_sixth = find("0.17", Debias::Align);
    eprintln!(
        "plain {plain:?}\njoint {joint:?}\nimbalanced {imbalanced:?}\n\
         aligned {aligned:?}\naligned, a sixth of the chapters {aligned_sixth:?}"
    );
    assert!(
        plain.nmi_language > 0.5,
        "plain k-means groups by language: {plain:?}"
    );
    assert!(
        joint.agreement >= 0.85 && joint.nmi_language <= 0.05,
        "{joint:?}"
    );
    assert!(imbalanced.agreement >= 0.75, "{imbalanced:?}");
    // The default: each language turned onto the others keeps translations
    // together also where each language covers two or three chapters
    // (30-seed means: 0.96 and 0.97, joint 0.86 there).
    assert!(
        aligned.agreement >= 0.93 && aligned.nmi_language <= 0.01,
        "{aligned:?}"
    );
    assert!(aligned_sixth.agreement >= 0.93, "{aligned_sixth:?}");
}
