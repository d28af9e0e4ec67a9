//! The theme map's geometry: where each paragraph and each theme label goes.
//!
//! Places come from a t-SNE (perplexity 30, exact gradients) of the
//! language-corrected vectors, each moved halfway toward its theme's centre
//! first: t-SNE alone keeps translations of one paragraph together but
//! scatters a theme's paragraphs, the pull makes each theme a region. It
//! is deterministic: it starts from the two
//! directions along which the size-weighted theme centres spread most
//! (found by power iteration from fixed starts), draws no random number,
//! and sums in a fixed order, so the same input gives the same page. Above
//! [`FITTED`] paragraphs it is fitted on about that many, each theme's
//! share spread evenly over its members, and every other paragraph goes to the similarity-weighted mean of
//! its nearest fitted neighbours, so a map of 100,000 paragraphs costs a few
//! seconds. Labels are placed largest theme first, each at the centre of its
//! marks or the nearest free place around it; one that finds no room is
//! shortened to its id, or left out, so that no two labels overlap.

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

/// Page size of the map, in pixels, and the margin kept free at its edges.
pub const WIDTH: f32 = 1000.0;
/// See [`WIDTH`].
pub const HEIGHT: f32 = 640.0;
const MARGIN: f32 = 30.0;

/// How far each vector is moved toward its theme's centre before the
/// layout (a share of the centre's unit length). Measured on installguide
/// (`bench-map`; translations / random pairs, silhouette of themes on the
/// map): no pull 0.023, −0.08 (translations together, themes scattered);
/// 0.25: 0.030, 0.39; 0.5: 0.060, 0.67; 1: 0.068, 0.72; 2: 0.058, 0.76.
const THEME_PULL: f32 = 0.5;
/// Effective neighbours of each paragraph in t-SNE's input similarities.
const PERPLEXITY: f32 = 30.0;
/// Paragraphs the t-SNE is fitted on at most.
pub const FITTED: usize = 1_000;
const ITERATIONS: usize = 600;
/// The first iterations pull the clusters apart with exaggerated input
/// similarities (as in van der Maaten's and scikit-learn's t-SNE).
const EXAGGERATED: usize = 200;
const EXAGGERATION: f32 = 12.0;
/// Fitted neighbours a paragraph outside the fit is placed among.
const PLACED_AMONG: usize = 8;
/// Rows of the outside paragraphs compared with the fitted ones at a time.
const BLOCK: usize = 2_048;

/// Each paragraph's place on the map, in page coordinates (`vectors`: one
/// unit row per paragraph, language-corrected; `labels`: each one's theme
/// of `k`).
pub fn project(vectors: ArrayView2<f32>, labels: &[usize], k: usize) -> Vec<(f32, f32)> {
    let n = vectors.nrows();
    if n == 0 {
        return Vec::new();
    }
    let start = theme_axes_coordinates(vectors, labels, k);
    let pull = Pull::new(vectors, labels, k);
    let plane = if n < 4 {
        start
    } else {
        let fitted = fitted_rows(labels, k);
        let fitted_labels: Vec<usize> = fitted.iter().map(|&i| labels[i]).collect();
        let sample = pull.applied(vectors.select(Axis(0), &fitted), &fitted_labels);
        let layout = tsne(sample.view(), start.select(Axis(0), &fitted));
        if n <= FITTED {
            layout
        } else {
            place_among((vectors, labels, &pull), &fitted, sample.view(), &layout)
        }
    };
    to_page(&plane)
}

/// The rows the t-SNE is fitted on: all up to [`FITTED`]; above, each
/// theme's share of [`FITTED`] (one at least), spread evenly over its
/// members, so that every theme is on the map whatever the input order.
fn fitted_rows(labels: &[usize], k: usize) -> Vec<usize> {
    let n = labels.len();
    if n <= FITTED {
        return (0..n).collect();
    }
    let mut members = vec![Vec::new(); k.max(1)];
    for (i, &l) in labels.iter().enumerate() {
        members[l].push(i);
    }
    let mut rows: Vec<usize> = members
        .iter()
        .filter(|m| !m.is_empty())
        .flat_map(|m| {
            let take = (m.len() * FITTED / n).max(1);
            (0..take).map(move |j| m[j * m.len() / take])
        })
        .collect();
    rows.sort_unstable();
    rows
}

/// Moves vectors toward their theme's centre by [`THEME_PULL`] of the
/// centre's (unit) length, then back to unit length; rows are moved a
/// slice at a time, so no second copy of a corpus's vectors is made.
struct Pull {
    centres: Array2<f32>,
}

impl Pull {
    fn new(vectors: ArrayView2<f32>, labels: &[usize], k: usize) -> Self {
        let mut centres = Array2::<f32>::zeros((k.max(1), vectors.ncols()));
        for (row, &l) in vectors.rows().into_iter().zip(labels) {
            centres.row_mut(l).scaled_add(1.0, &row);
        }
        for mut c in centres.rows_mut() {
            let norm = c.dot(&c).sqrt().max(1e-12);
            c /= norm;
        }
        Self { centres }
    }

    /// `rows` (of themes `labels`) moved.
    fn applied(&self, mut rows: Array2<f32>, labels: &[usize]) -> Array2<f32> {
        for (mut row, &l) in rows.rows_mut().into_iter().zip(labels) {
            row.scaled_add(THEME_PULL, &self.centres.row(l));
            let norm = row.dot(&row).sqrt().max(1e-12);
            row /= norm;
        }
        rows
    }
}

/// Coordinates along the two directions the theme centres spread most.
fn theme_axes_coordinates(vectors: ArrayView2<f32>, labels: &[usize], k: usize) -> Array2<f32> {
    let (mean, axes) = theme_axes(vectors, labels, k);
    // (v − mean)·axes = v·axes − mean·axes: no centred copy of the vectors.
    vectors.dot(&axes.t()) - mean.dot(&axes.t()).insert_axis(Axis(0))
}

/// Scales 2-D coordinates into the page, inside the margin.
fn to_page(plane: &Array2<f32>) -> Vec<(f32, f32)> {
    let range = |c: usize| {
        let col = plane.column(c);
        let lo = col.iter().copied().fold(f32::MAX, f32::min);
        let hi = col.iter().copied().fold(f32::MIN, f32::max);
        (lo, (hi - lo).max(1e-6))
    };
    let ((x0, dx), (y0, dy)) = (range(0), range(1));
    plane
        .rows()
        .into_iter()
        .map(|r| {
            (
                MARGIN + (r[0] - x0) / dx * (WIDTH - 2.0 * MARGIN),
                MARGIN + (r[1] - y0) / dy * (HEIGHT - 2.0 * MARGIN),
            )
        })
        .collect()
}

/// The two directions along which the themes' centres (weighted by size)
/// spread most, by power iteration from fixed starts: deterministic.
fn theme_axes(vectors: ArrayView2<f32>, labels: &[usize], k: usize) -> (Array1<f32>, Array2<f32>) {
    let dim = vectors.ncols();
    let mut sums = Array2::<f32>::zeros((k.max(1), dim));
    let mut sizes = vec![0f32; k.max(1)];
    for (row, &l) in vectors.rows().into_iter().zip(labels) {
        sums.row_mut(l).scaled_add(1.0, &row);
        sizes[l] += 1.0;
    }
    let n: f32 = sizes.iter().sum::<f32>().max(1.0);
    let mean = sums.sum_axis(Axis(0)) / n;
    let mut centres = sums;
    for (mut row, &size) in centres.rows_mut().into_iter().zip(&sizes) {
        if size > 0.0 {
            row /= size;
            row -= &mean;
            row *= size.sqrt();
        }
    }
    let mut axes = Array2::<f32>::zeros((2, dim));
    for a in 0..2 {
        let mut v =
            Array1::from_iter((0..dim).map(|i| 1.0 + ((i * 7 + a * 13) % 11) as f32 / 11.0));
        for _ in 0..100 {
            let mut next = centres.t().dot(&centres.dot(&v));
            for b in 0..a {
                let along = next.dot(&axes.row(b));
                next.scaled_add(-along, &axes.row(b));
            }
            let norm = next.dot(&next).sqrt();
            if norm < 1e-12 {
                break;
            }
            v = next / norm;
        }
        // A fixed sign, so that the picture does not flip between runs.
        let largest = v
            .iter()
            .copied()
            .fold(0f32, |m, x| if x.abs() > m.abs() { x } else { m });
        if largest < 0.0 {
            v *= -1.0;
        }
        axes.row_mut(a).assign(&v);
    }
    (mean, axes)
}

/// t-SNE of unit rows `x` from the 2-D `start`, with exact gradients.
fn tsne(x: ArrayView2<f32>, start: Array2<f32>) -> Array2<f32> {
    let n = x.nrows();
    let p = joint_probabilities(x);
    // Started small, as scikit-learn scales its PCA start.
    let mut y = start;
    let mean = y.mean_axis(Axis(0)).expect("rows");
    y -= &mean;
    let spread = y.column(0).std(0.0).max(1e-12);
    y *= 1e-4 / spread;
    let rate = (n as f32 / EXAGGERATION / 4.0).max(50.0);
    let mut update = Array2::<f32>::zeros((n, 2));
    let mut gains = Array2::<f32>::ones((n, 2));
    for iteration in 0..ITERATIONS {
        let (exaggeration, momentum) = if iteration < EXAGGERATED {
            (EXAGGERATION, 0.5)
        } else {
            (1.0, 0.8)
        };
        let gradient = gradient(&p, &y, exaggeration);
        ndarray::Zip::from(&mut y)
            .and(&mut update)
            .and(&mut gains)
            .and(&gradient)
            .for_each(|y, u, g, &d| {
                *g = if (d > 0.0) != (*u > 0.0) {
                    *g + 0.2
                } else {
                    (*g * 0.8).max(0.01)
                };
                *u = momentum * *u - rate * *g * d;
                *y += *u;
            });
    }
    y
}

/// t-SNE's symmetric input similarities: each row's Gaussian over squared
/// distances (2 − 2·cosine for unit rows), its width found by bisection so
/// that its perplexity is [`PERPLEXITY`], then symmetrized and normalized.
fn joint_probabilities(x: ArrayView2<f32>) -> Array2<f32> {
    let n = x.nrows();
    let distances = (x.dot(&x.t()) * -2.0 + 2.0).mapv(|d| d.max(0.0));
    let target = PERPLEXITY.min((n as f32 - 1.0) / 3.0).max(1.0).ln();
    let mut conditional = Array2::<f32>::zeros((n, n));
    conditional
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(i, mut row)| {
            let d = distances.row(i);
            let (mut lo, mut hi, mut beta) = (0.0f32, f32::INFINITY, 1.0f32);
            for _ in 0..64 {
                let mut sum = 0.0f32;
                let mut weighted = 0.0f32;
                for (j, (&dj, r)) in d.iter().zip(row.iter_mut()).enumerate() {
                    *r = if j == i { 0.0 } else { (-beta * dj).exp() };
                    sum += *r;
                    weighted += *r * dj;
                }
                let sum = sum.max(1e-12);
                let entropy = sum.ln() + beta * weighted / sum;
                row /= sum;
                if (entropy - target).abs() < 1e-4 {
                    break;
                }
                if entropy > target {
                    lo = beta;
                    beta = if hi.is_finite() {
                        (beta + hi) / 2.0
                    } else {
                        beta * 2.0
                    };
                } else {
                    hi = beta;
                    beta = (beta + lo) / 2.0;
                }
            }
        });
    let joint = (&conditional + &conditional.t()) / (2.0 * n as f32);
    joint.mapv(|v| v.max(1e-12))
}

/// The gradient of t-SNE's cost at `y`, each row summed in order (and the
/// normalizer over rows in order): the same input gives the same map.
fn gradient(p: &Array2<f32>, y: &Array2<f32>, exaggeration: f32) -> Array2<f32> {
    let n = y.nrows();
    let kernel = |i: usize, j: usize| {
        let (dx, dy) = (y[[i, 0]] - y[[j, 0]], y[[i, 1]] - y[[j, 1]]);
        1.0 / (1.0 + dx * dx + dy * dy)
    };
    let row_sums: Vec<f32> = (0..n)
        .into_par_iter()
        .map(|i| (0..n).filter(|&j| j != i).map(|j| kernel(i, j)).sum())
        .collect();
    let z: f32 = row_sums.iter().sum::<f32>().max(1e-12);
    let mut gradient = Array2::<f32>::zeros((n, 2));
    gradient
        .axis_iter_mut(Axis(0))
        .into_par_iter()
        .enumerate()
        .for_each(|(i, mut g)| {
            let (mut gx, mut gy) = (0.0f32, 0.0f32);
            for j in (0..n).filter(|&j| j != i) {
                let q = kernel(i, j);
                let force = (exaggeration * p[[i, j]] - q / z) * q;
                gx += force * (y[[i, 0]] - y[[j, 0]]);
                gy += force * (y[[i, 1]] - y[[j, 1]]);
            }
            g[0] = 4.0 * gx;
            g[1] = 4.0 * gy;
        });
    gradient
}

/// Every row of `vectors` (of themes `labels`, moved by `pull` as the
/// fitted `sample` was) placed on the fitted `layout`: a fitted row keeps
/// its place; any other goes to the mean of its [`PLACED_AMONG`] most
/// similar fitted rows, weighted toward the closest.
fn place_among(
    (vectors, labels, pull): (ArrayView2<f32>, &[usize], &Pull),
    fitted: &[usize],
    sample: ArrayView2<f32>,
    layout: &Array2<f32>,
) -> Array2<f32> {
    let n = vectors.nrows();
    let mut plane = Array2::<f32>::zeros((n, 2));
    for start in (0..n).step_by(BLOCK) {
        let end = (start + BLOCK).min(n);
        let block = pull.applied(
            vectors.slice(s![start..end, ..]).to_owned(),
            &labels[start..end],
        );
        let similarity = block.dot(&sample.t());
        let placed: Vec<[f32; 2]> = similarity
            .axis_iter(Axis(0))
            .into_par_iter()
            .map(|row| {
                let mut nearest: Vec<(usize, f32)> = row.iter().copied().enumerate().collect();
                let cut = PLACED_AMONG.min(nearest.len()) - 1;
                nearest.select_nth_unstable_by(cut, |a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                nearest.truncate(cut + 1);
                let best = nearest.iter().map(|n| n.1).fold(f32::MIN, f32::max);
                let (mut x, mut y, mut total) = (0.0f32, 0.0f32, 0.0f32);
                for &(j, similarity) in &nearest {
                    let weight = ((similarity - best) / 0.02).exp();
                    x += weight * layout[[j, 0]];
                    y += weight * layout[[j, 1]];
                    total += weight;
                }
                [x / total, y / total]
            })
            .collect();
        for (i, [x, y]) in (start..end).zip(placed) {
            plane[[i, 0]] = x;
            plane[[i, 1]] = y;
        }
    }
    for (row, &i) in fitted.iter().enumerate() {
        plane.row_mut(i).assign(&layout.row(row));
    }
    plane
}

/// A label's box on the page: its centre and half its width and height.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LabelBox {
    /// Centre, x.
    pub x: f32,
    /// Centre, y (the text's middle).
    pub y: f32,
    /// Half the width.
    pub half_width: f32,
    /// Half the height.
    pub half_height: f32,
}

impl LabelBox {
    fn overlaps(&self, other: &LabelBox) -> bool {
        (self.x - other.x).abs() < self.half_width + other.half_width
            && (self.y - other.y).abs() < self.half_height + other.half_height
    }

    fn inside_the_map(&self) -> bool {
        self.x - self.half_width >= 0.0
            && self.x + self.half_width <= WIDTH
            && self.y - self.half_height >= 0.0
            && self.y + self.half_height <= HEIGHT
    }
}

/// Pixels a character of a map label takes, about, at the page's font.
const CHAR_WIDTH: f32 = 7.5;
const LABEL_HEIGHT: f32 = 16.0;
/// How far from its theme's centre a label may move, in steps of
/// [`LABEL_HEIGHT`].
const LABEL_STEPS: usize = 8;

/// Where each label goes, in the order given (most important first): at
/// its anchor, else the nearest free place on rings around it; a label
/// that finds none is tried again as its `short` form, and left out
/// (`None`) when that finds none either. No two placed boxes overlap.
pub fn place_labels(labels: &[(String, String, (f32, f32))]) -> Vec<Option<(String, LabelBox)>> {
    let mut placed: Vec<LabelBox> = Vec::new();
    labels
        .iter()
        .map(|(full, short, (x, y))| {
            [full, short].into_iter().find_map(|text| {
                let half_width = text.chars().count() as f32 * CHAR_WIDTH / 2.0 + 3.0;
                let spot = candidate_spots(*x, *y).find_map(|(cx, cy)| {
                    let candidate = LabelBox {
                        x: cx,
                        y: cy,
                        half_width,
                        half_height: LABEL_HEIGHT / 2.0,
                    };
                    (candidate.inside_the_map() && placed.iter().all(|b| !b.overlaps(&candidate)))
                        .then_some(candidate)
                })?;
                placed.push(spot);
                Some((text.clone(), spot))
            })
        })
        .collect()
}

/// The anchor, then rings of 8 spots at growing distance around it; spots
/// past the map's edge are moved inside it.
fn candidate_spots(x: f32, y: f32) -> impl Iterator<Item = (f32, f32)> {
    std::iter::once((x, y)).chain((1..=LABEL_STEPS).flat_map(move |step| {
        let r = step as f32 * LABEL_HEIGHT;
        [
            (0.0, -1.0),
            (0.0, 1.0),
            (1.0, 0.0),
            (-1.0, 0.0),
            (1.0, -1.0),
            (-1.0, -1.0),
            (1.0, 1.0),
            (-1.0, 1.0),
        ]
        .into_iter()
        .map(move |(dx, dy): (f32, f32)| (x + dx * r * 2.0, y + dy * r))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    /// Two themes of unit vectors in 3-D, each around its own direction.
    fn two_themes(per_theme: usize) -> (Array2<f32>, Vec<usize>) {
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for theme in 0..2 {
            for j in 0..per_theme {
                let jitter = 0.05 * ((j * 7 % 11) as f32 / 11.0 - 0.5);
                let v = if theme == 0 {
                    [1.0, jitter, 0.1]
                } else {
                    [jitter, 1.0, -0.1]
                };
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                rows.extend(v.map(|x| x / norm));
                labels.push(theme);
            }
        }
        let n = labels.len();
        (Array2::from_shape_vec((n, 3), rows).unwrap(), labels)
    }

    #[test]
    fn the_same_input_gives_the_same_map_with_themes_apart() {
        let (vectors, labels) = two_themes(30);
        let first = project(vectors.view(), &labels, 2);
        assert_eq!(first, project(vectors.view(), &labels, 2));
        let centre = |theme: usize| {
            let members: Vec<&(f32, f32)> = first
                .iter()
                .zip(&labels)
                .filter(|(_, &l)| l == theme)
                .map(|(p, _)| p)
                .collect();
            let n = members.len() as f32;
            (
                members.iter().map(|p| p.0).sum::<f32>() / n,
                members.iter().map(|p| p.1).sum::<f32>() / n,
            )
        };
        let (a, b) = (centre(0), centre(1));
        let apart = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
        assert!(apart > 200.0, "{a:?} {b:?}");
    }

    #[test]
    fn paragraphs_past_the_fitted_sample_land_among_their_neighbours() {
        let layout = array![[0.0f32, 0.0], [10.0, 10.0]];
        let sample = array![[1.0f32, 0.0], [0.0, 1.0]];
        let vectors = array![[1.0f32, 0.0], [0.0, 1.0], [0.995, 0.0998]];
        let pull = Pull {
            centres: Array2::zeros((1, 2)),
        };
        let plane = place_among(
            (vectors.view(), &[0, 0, 0], &pull),
            &[0, 1],
            sample.view(),
            &layout,
        );
        assert_eq!(plane.row(0), layout.row(0));
        assert!(plane[[2, 0]] < 1.0, "{plane}");
    }

    #[test]
    fn labels_never_overlap_and_thin_out_where_crowded() {
        let labels: Vec<(String, String, (f32, f32))> = (0..60)
            .map(|i| {
                (
                    format!("{i} · a long label for theme {i}"),
                    i.to_string(),
                    (500.0, 320.0),
                )
            })
            .collect();
        let placed: Vec<LabelBox> = place_labels(&labels)
            .into_iter()
            .flatten()
            .map(|p| p.1)
            .collect();
        assert!(placed.len() > 10 && placed.len() < 60, "{}", placed.len());
        for (i, a) in placed.iter().enumerate() {
            assert!(a.inside_the_map());
            for b in &placed[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} {b:?}");
            }
        }
        let first = &place_labels(&labels)[0];
        assert_eq!(
            first.as_ref().unwrap().1.x,
            500.0,
            "the largest theme keeps its centre"
        );
    }
}
