//! `--debias align`: before the language offsets are fitted, each
//! language's vectors are turned (an orthogonal map, so lengths and angles
//! within the language stay as they were) onto the other languages'.
//!
//! An offset per language removes the part of the language signal that is
//! a shift; what is left differs by more than a shift, and where languages
//! cover different themes the offsets absorb part of the themes. The map
//! is learned without labels, as unsupervised bilingual embedding mapping
//! (VecMap's self-learning) does: on a sample of each language, centred on
//! its mean, pair each paragraph with its nearest paragraph in another
//! language where that one's nearest in this language is it in turn
//! (mutual nearest neighbours), take the rotation that carries the
//! language onto its partners (orthogonal Procrustes), pulled towards
//! leaving it as it is so that a few pairs cannot turn it far, and repeat
//! from the turned vectors. The rotations depend on the data and the seed
//! alone, not on k, so every candidate of `--k auto` sees the same space.

use std::collections::BTreeMap;

use nalgebra::DMatrix;
use ndarray::{Array2, ArrayView2, ArrayViewMut1, Axis};
use rayon::prelude::*;

use super::joint::{self, Languages};
use super::kmeans::sample_rows;

/// Paragraphs of each language the rotations are learned on at most.
const SAMPLE_PER_LANGUAGE: usize = 160;
/// Rounds of pairing and turning.
const ROUNDS: usize = 3;
/// How strongly each round's rotation is pulled towards none: the identity
/// counts as much as this many perfectly matched pairs. Measured on
/// installguide (docs/benchmarks.md): 2 beat 5 and 10 on every variant.
const PULL: f32 = 2.0;
/// Fewest mutual pairs a language needs for a rotation of its own.
const MIN_PAIRS: usize = 3;
/// Rows of the sample compared with all others at a time.
const BLOCK: usize = 512;
/// Rows rotated at a time on one core.
const CHUNK: usize = 4096;

/// Each language's rotation onto the shared space, by language name; a
/// language without one is left as it is.
#[derive(Debug, Clone, Default)]
pub struct Alignment {
    rotations: BTreeMap<String, Array2<f32>>,
}

impl Alignment {
    /// Learns the rotations from a seeded sample of `data` (unit rows).
    pub fn learn(data: ArrayView2<f32>, languages: &Languages, seed: u64) -> Self {
        let language_count = languages.names.len();
        let rows = sample_per_language(&languages.ids, language_count, seed);
        let ids: Vec<usize> = rows.iter().map(|&r| languages.ids[r]).collect();
        let sample = data.select(Axis(0), &rows);
        let dims = data.ncols();
        let mut rotations: Vec<Option<DMatrix<f32>>> = vec![None; language_count];
        for _ in 0..ROUNDS {
            let turned =
                centred_unit_rows(rotated(&sample, &ids, &rotations), &ids, language_count);
            let partners = mutual_partners(turned.view(), &ids, language_count);
            let steps: Vec<Option<DMatrix<f32>>> = (0..language_count)
                .into_par_iter()
                .map(|language| {
                    let (own, theirs): (Vec<usize>, Vec<usize>) = partners
                        .iter()
                        .filter(|&&(i, _)| ids[i] == language)
                        .copied()
                        .unzip();
                    (own.len() >= MIN_PAIRS).then(|| {
                        polar_near_identity(
                            &as_matrix(turned.select(Axis(0), &own).view()),
                            &as_matrix(turned.select(Axis(0), &theirs).view()),
                            dims,
                        )
                    })
                })
                .collect();
            for (rotation, step) in rotations.iter_mut().zip(steps) {
                if let Some(step) = step {
                    *rotation = Some(match rotation.take() {
                        Some(before) => step * before,
                        None => step,
                    });
                }
            }
        }
        Self {
            rotations: languages
                .names
                .iter()
                .zip(rotations)
                .filter_map(|(name, r)| Some((name.clone(), r?)))
                .map(|(name, r)| (name, Array2::from_shape_fn(r.shape(), |(i, j)| r[(i, j)])))
                .collect(),
        }
    }

    /// Turns every row of `data` by its language's rotation, in place, a
    /// slice of rows at a time on each core.
    pub fn apply(&self, data: &mut Array2<f32>, languages: &Languages) {
        if self.rotations.is_empty() {
            return;
        }
        let rotations: Vec<Option<&Array2<f32>>> = languages
            .names
            .iter()
            .map(|name| self.rotations.get(name))
            .collect();
        data.axis_chunks_iter_mut(Axis(0), CHUNK)
            .into_par_iter()
            .zip(languages.ids.par_chunks(CHUNK))
            .for_each(|(mut slice, ids)| {
                for (language, rotation) in rotations.iter().enumerate() {
                    let Some(rotation) = rotation else { continue };
                    let rows: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == language).collect();
                    if rows.is_empty() {
                        continue;
                    }
                    let turned = slice.select(Axis(0), &rows).dot(&rotation.t());
                    for (&i, row) in rows.iter().zip(turned.rows()) {
                        slice.row_mut(i).assign(&row);
                    }
                }
            });
    }

    /// Turns one row of `language` back to the model's own orientation.
    pub fn undo(&self, mut row: ArrayViewMut1<f32>, language: &str) {
        if let Some(rotation) = self.rotations.get(language) {
            let back = rotation.t().dot(&row);
            row.assign(&back);
        }
    }

    /// How many languages were turned.
    pub fn turned(&self) -> usize {
        self.rotations.len()
    }
}

/// A seeded draw of at most [`SAMPLE_PER_LANGUAGE`] rows of each language,
/// in row order.
fn sample_per_language(ids: &[usize], language_count: usize, seed: u64) -> Vec<usize> {
    let mut by_language: Vec<Vec<usize>> = vec![Vec::new(); language_count];
    for (i, &l) in ids.iter().enumerate() {
        by_language[l].push(i);
    }
    let mut rows: Vec<usize> = by_language
        .into_iter()
        .flat_map(
            |members| match sample_rows(members.len(), SAMPLE_PER_LANGUAGE, seed) {
                Some(picked) => picked.into_iter().map(|p| members[p]).collect(),
                None => members,
            },
        )
        .collect();
    rows.sort_unstable();
    rows
}

/// `sample` with each language's rows turned by its rotation so far.
fn rotated(sample: &Array2<f32>, ids: &[usize], rotations: &[Option<DMatrix<f32>>]) -> Array2<f32> {
    let mut out = sample.clone();
    for (language, rotation) in rotations.iter().enumerate() {
        let Some(rotation) = rotation else { continue };
        let rotation = Array2::from_shape_fn(rotation.shape(), |(i, j)| rotation[(i, j)]);
        let rows: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == language).collect();
        let turned = sample.select(Axis(0), &rows).dot(&rotation.t());
        for (&i, row) in rows.iter().zip(turned.rows()) {
            out.row_mut(i).assign(&row);
        }
    }
    out
}

/// Each row less its language's mean, scaled to unit length.
fn centred_unit_rows(mut rows: Array2<f32>, ids: &[usize], language_count: usize) -> Array2<f32> {
    let means = joint::means(rows.view(), ids, language_count);
    joint::shift(&mut rows, ids, &means);
    for mut row in rows.rows_mut() {
        let norm = row.dot(&row).sqrt();
        if norm > 0.0 {
            row /= norm;
        }
    }
    rows
}

/// Pairs (i, j) of rows in different languages where j is i's most similar
/// row outside i's language and i is j's most similar row in i's language.
fn mutual_partners(
    rows: ArrayView2<f32>,
    ids: &[usize],
    language_count: usize,
) -> Vec<(usize, usize)> {
    // best[i][l]: the row of language l most similar to row i.
    let best: Vec<Vec<Option<(f32, usize)>>> = (0..rows.nrows())
        .collect::<Vec<_>>()
        .par_chunks(BLOCK)
        .flat_map_iter(|block| {
            let similarities = rows.select(Axis(0), block).dot(&rows.t());
            block
                .iter()
                .zip(similarities.rows())
                .map(|(&i, row)| {
                    let mut best = vec![None::<(f32, usize)>; language_count];
                    for (j, (&s, &l)) in row.iter().zip(ids).enumerate() {
                        if j != i && best[l].is_none_or(|(b, _)| s > b) {
                            best[l] = Some((s, j));
                        }
                    }
                    best
                })
                .collect::<Vec<_>>()
        })
        .collect();
    (0..rows.nrows())
        .filter_map(|i| {
            let (_, j) = best[i]
                .iter()
                .enumerate()
                .filter(|&(l, _)| l != ids[i])
                .filter_map(|(_, b)| *b)
                .max_by(|a, b| a.0.total_cmp(&b.0))?;
            (best[j][ids[i]].map(|(_, back)| back) == Some(i)).then_some((i, j))
        })
        .collect()
}

fn as_matrix(rows: ArrayView2<f32>) -> DMatrix<f32> {
    DMatrix::from_fn(rows.nrows(), rows.ncols(), |i, j| rows[[i, j]])
}

/// The rotation R that best carries the rows of `own` onto the rows of
/// `theirs` (R·own[p] ≈ theirs[p]) with the identity counted as [`PULL`]
/// pairs: the orthogonal polar factor of PULL·I + theirsᵀ·own. Outside the
/// span of the pairs that matrix is PULL·I, so R is the identity there and
/// the SVD runs on the span alone.
fn polar_near_identity(own: &DMatrix<f32>, theirs: &DMatrix<f32>, dims: usize) -> DMatrix<f32> {
    let pairs = own.nrows();
    let polar = |m: DMatrix<f32>| {
        let svd = m.svd(true, true);
        svd.u.expect("u was asked for") * svd.v_t.expect("vᵀ was asked for")
    };
    if 2 * pairs >= dims {
        let cross = theirs.transpose() * own + DMatrix::identity(dims, dims) * PULL;
        return polar(cross);
    }
    let span = DMatrix::from_fn(dims, 2 * pairs, |i, j| {
        if j < pairs {
            own[(j, i)]
        } else {
            theirs[(j - pairs, i)]
        }
    });
    let basis = span.qr().q();
    let width = basis.ncols();
    let inner =
        (theirs * &basis).transpose() * (own * &basis) + DMatrix::identity(width, width) * PULL;
    let turn = polar(inner) - DMatrix::identity(width, width);
    DMatrix::identity(dims, dims) + &basis * turn * basis.transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_rows(mut rows: Array2<f32>) -> Array2<f32> {
        for mut row in rows.rows_mut() {
            let norm = row.dot(&row).sqrt();
            row /= norm;
        }
        rows
    }

    /// A rotation of the plane spanned by dimensions 0 and 1.
    fn turn(angle: f32, dims: usize) -> Array2<f32> {
        let mut r = Array2::eye(dims);
        let (s, c) = angle.sin_cos();
        r[[0, 0]] = c;
        r[[0, 1]] = -s;
        r[[1, 0]] = s;
        r[[1, 1]] = c;
        r
    }

    #[test]
    fn a_turned_language_is_turned_back_onto_the_other() {
        // Two languages with the same ten points, the second turned by 0.5
        // rad: after alignment each point lies nearer its twin than before.
        let dims = 6;
        let points = unit_rows(Array2::from_shape_fn((10, dims), |(i, j)| {
            ((i * 7 + j * 3) % 11) as f32 - 5.0 + if j == i % dims { 6.0 } else { 0.0 }
        }));
        let twins = points.dot(&turn(0.5, dims).t());
        let mut data = ndarray::concatenate![Axis(0), points, twins];
        let names: Vec<&str> = (0..20).map(|i| if i < 10 { "en" } else { "de" }).collect();
        let languages = Languages::new(&names);
        let gap = |d: &Array2<f32>| -> f32 {
            (0..10)
                .map(|i| (&d.row(i) - &d.row(i + 10)).mapv(|x| x * x).sum())
                .sum()
        };
        let before = gap(&data);
        let alignment = Alignment::learn(data.view(), &languages, 1);
        alignment.apply(&mut data, &languages);
        assert!(gap(&data) < before / 4.0, "{} vs {before}", gap(&data));
        // Undoing the rotation gives the model's own vectors back.
        let mut row = data.row(15).to_owned();
        alignment.undo(row.view_mut(), names[15]);
        let original = twins.row(5);
        assert!((&row - &original).mapv(f32::abs).sum() < 1e-4);
    }

    #[test]
    fn the_polar_factor_in_the_span_equals_the_full_one() {
        let dims = 8;
        let own = DMatrix::from_fn(2, dims, |i, j| ((i * 5 + j * 3) % 7) as f32 - 3.0);
        let theirs = DMatrix::from_fn(2, dims, |i, j| ((i * 3 + j * 2) % 5) as f32 - 2.0);
        let fast = polar_near_identity(&own, &theirs, dims);
        let svd =
            (theirs.transpose() * &own + DMatrix::identity(dims, dims) * PULL).svd(true, true);
        let full = svd.u.unwrap() * svd.v_t.unwrap();
        assert!((fast - full).abs().max() < 1e-4);
    }

    #[test]
    fn one_language_is_left_as_it_is() {
        let data = unit_rows(Array2::from_shape_fn((12, 4), |(i, j)| {
            (i + j) as f32 + 1.0
        }));
        let languages = Languages::new(&["en"; 12]);
        assert_eq!(Alignment::learn(data.view(), &languages, 1).turned(), 0);
    }
}
