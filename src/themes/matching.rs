//! Which of this run's themes continues which of the last run's: an
//! optimal one-to-one matching of centroids by cosine.

use ndarray::ArrayView2;

use super::history::ThemeRecord;

/// Least centroid cosine for a new theme to inherit an old theme's id.
const MATCH_MIN_COSINE: f32 = 0.5;

/// Optimal one-to-one matching (Hungarian method) of new centroids to old
/// ones by cosine; pairs below [`MATCH_MIN_COSINE`] do not count.
pub fn match_centroids(old: &[&ThemeRecord], new: ArrayView2<f32>) -> Vec<Option<usize>> {
    let n_new = new.nrows();
    if old.is_empty() || old.iter().any(|t| t.centroid.len() != new.ncols()) {
        return vec![None; n_new];
    }
    let cosine = |i: usize, j: usize| -> f32 {
        new.row(i)
            .iter()
            .zip(&old[j].centroid)
            .map(|(a, b)| a * b)
            .sum()
    };
    let scale = |c: f32| (c * 1e6) as i64;
    let mut matches = vec![None; n_new];
    if n_new <= old.len() {
        let weights =
            pathfinding::matrix::Matrix::from_fn(n_new, old.len(), |(i, j)| scale(cosine(i, j)));
        let (_, assignment) = pathfinding::kuhn_munkres::kuhn_munkres(&weights);
        for (i, j) in assignment.into_iter().enumerate() {
            matches[i] = Some(j);
        }
    } else {
        let weights =
            pathfinding::matrix::Matrix::from_fn(old.len(), n_new, |(j, i)| scale(cosine(i, j)));
        let (_, assignment) = pathfinding::kuhn_munkres::kuhn_munkres(&weights);
        for (j, i) in assignment.into_iter().enumerate() {
            matches[i] = Some(j);
        }
    }
    for (i, m) in matches.iter_mut().enumerate() {
        if m.is_some_and(|j| cosine(i, j) < MATCH_MIN_COSINE) {
            *m = None;
        }
    }
    matches
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn record(id: usize, centroid: Vec<f32>) -> ThemeRecord {
        ThemeRecord {
            id,
            label: format!("t{id}"),
            first_seen: "2026-01-01".into(),
            start: centroid.clone(),
            centroid,
            named: false,
        }
    }

    #[test]
    fn matching_is_one_to_one_and_optimal() {
        let old = [record(7, vec![1.0, 0.0]), record(3, vec![0.0, 1.0])];
        let old_refs: Vec<&ThemeRecord> = old.iter().collect();
        // New theme 0 looks like old 3, new theme 1 like old 7.
        let new = array![[0.1f32, 0.995], [0.995, 0.1]];
        assert_eq!(
            match_centroids(&old_refs, new.view()),
            vec![Some(1), Some(0)]
        );
        // A third, unlike anything before, stays unmatched.
        let new = array![[0.1f32, 0.995], [0.995, 0.1], [-0.7, -0.7]];
        assert_eq!(
            match_centroids(&old_refs, new.view()),
            vec![Some(1), Some(0), None]
        );
        // Fewer new themes than old: one old theme is left over.
        let new = array![[0.2f32, 0.98]];
        assert_eq!(match_centroids(&old_refs, new.view()), vec![Some(1)]);
    }
}
