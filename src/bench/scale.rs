//! `bench-scale`: the clustering stage on synthetic paragraph-like vectors
//! of any size (384 dimensions, 40 themes, 8 languages each with its own
//! offset, L2-normalized), timed with its peak memory. The vectors and the
//! chosen k are saved so `benches/faiss_kmeans.py` can run faiss's k-means
//! on exactly the same input.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use ndarray::Array2;
use rand_xoshiro::rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256Plus;

use crate::cluster::{self, ClusterOptions};
use crate::run_record::take_peak_memory;

const DIMENSIONS: usize = 384;
const THEMES: usize = 40;
const LANGUAGES: [&str; 8] = ["en", "de", "fr", "es", "it", "pl", "ru", "zh"];

/// Clusters `n` synthetic vectors for each n in `sizes` and prints a table;
/// with `save`, writes `vectors-N.npy` and `k-N.txt` there.
pub fn scale(sizes: &[usize], save: Option<&Path>) -> anyhow::Result<()> {
    println!("| paragraphs | k chosen | cluster stage (s) | peak memory in the stage (MB) | vectors (MB) |");
    println!("|---|---|---|---|---|");
    for &n in sizes {
        let (vectors, languages) = synthetic(n, 42);
        let megabytes = (vectors.len() * 4) as f64 / 1e6;
        if let Some(folder) = save {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("creating {}", folder.display()))?;
            write_npy(&folder.join(format!("vectors-{n}.npy")), &vectors)?;
        }
        take_peak_memory();
        let started = Instant::now();
        let clustering = cluster::cluster(vectors, &languages, &ClusterOptions::default())?;
        let seconds = started.elapsed().as_secs_f64();
        let peak = take_peak_memory().map_or("n/a".into(), |b| format!("{:.0}", b as f64 / 1e6));
        println!(
            "| {n} | {} | {seconds:.1} | {peak} | {megabytes:.0} |",
            clustering.k(),
        );
        if let Some(folder) = save {
            std::fs::write(
                folder.join(format!("k-{n}.txt")),
                clustering.k().to_string(),
            )?;
        }
    }
    Ok(())
}

/// Theme centre + language offset + noise, each a random direction of
/// norm about 1, 1.5 and 1: the language shift outweighs the theme
/// difference, as with real multilingual vectors.
fn synthetic(n: usize, seed: u64) -> (Array2<f32>, Vec<&'static str>) {
    let mut rng = Xoshiro256Plus::seed_from_u64(seed);
    let scale = 1.0 / (DIMENSIONS as f32).sqrt();
    let mut gaussian = move || {
        // Box–Muller from two uniforms in (0, 1].
        let u = (rng.next_u32() as f32 + 1.0) / (u32::MAX as f32 + 1.0);
        let v = rng.next_u32() as f32 / u32::MAX as f32;
        (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * v).cos()
    };
    let mut directions = |count: usize, norm: f32| -> Array2<f32> {
        Array2::from_shape_simple_fn((count, DIMENSIONS), || gaussian() * scale * norm)
    };
    let centres = directions(THEMES, 1.0);
    let offsets = directions(LANGUAGES.len(), 1.5);
    let mut vectors = directions(n, 1.0);
    let mut languages = Vec::with_capacity(n);
    for (i, mut row) in vectors.rows_mut().into_iter().enumerate() {
        // A fixed pseudo-random pairing of theme and language per row.
        let mix = (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let (theme, language) = ((mix >> 20) as usize % THEMES, (mix >> 40) as usize % 8);
        row += &centres.row(theme);
        row += &offsets.row(language);
        let norm = row.dot(&row).sqrt();
        row /= norm;
        languages.push(LANGUAGES[language]);
    }
    (vectors, languages)
}

fn write_npy(path: &Path, data: &Array2<f32>) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    crate::output::write_npy(&mut out, data)?;
    out.flush()?;
    Ok(())
}
