//! Topics: a few broader groups of themes, for an overview when themes are
//! many. The normalized theme centroids are clustered with the same k-means
//! as the paragraphs; each topic is named after its most central theme.
//! Topics are numbered per run, largest first (they are not stable ids).

use ndarray::Array2;

use super::kmeans::{self, Start};
use super::ClusterError;

/// Below this many themes all themes form one topic.
const FEWEST_THEMES_TO_GROUP: usize = 4;

/// Themes grouped into topics.
#[derive(Debug, Clone, Default)]
pub struct Topics {
    /// Each theme's topic, 0-based, largest topic (in paragraphs) first.
    pub of_theme: Vec<usize>,
    /// Each topic's most central theme with paragraphs (the one it is
    /// named after).
    pub central_theme: Vec<usize>,
}

/// ⌊√(k / 2)⌉ topics for k themes: 2 for 7 themes, 5 for 50, 7 for 100.
pub fn topic_count(themes: usize) -> usize {
    if themes < FEWEST_THEMES_TO_GROUP {
        return 1;
    }
    ((themes as f64 / 2.0).sqrt().round() as usize).max(2)
}

/// Groups themes by their normalized `centroids`; `sizes` are the themes'
/// paragraph counts (for numbering topics by size).
pub fn group(centroids: &Array2<f32>, sizes: &[usize], seed: u64) -> Result<Topics, ClusterError> {
    let themes = centroids.nrows();
    let count = topic_count(themes);
    let (raw, centres) = if count == 1 {
        (
            vec![0; themes],
            super::joint::means(centroids.view(), &vec![0; themes], 1),
        )
    } else {
        let model = kmeans::train(
            centroids.view(),
            count,
            Start::PlusPlus { restarts: 10 },
            seed,
        )?;
        (model.assign(centroids.view()), model.centroids().clone())
    };
    let mut totals = vec![(0usize, usize::MAX, 0usize); count];
    for (theme, &topic) in raw.iter().enumerate() {
        totals[topic].0 += sizes[theme];
        totals[topic].1 = totals[topic].1.min(theme);
        totals[topic].2 = topic;
    }
    totals.retain(|t| t.1 != usize::MAX);
    totals.sort_by_key(|&(size, first, _)| (std::cmp::Reverse(size), first));
    let mut renumber = vec![0; count];
    for (new, &(_, _, old)) in totals.iter().enumerate() {
        renumber[old] = new;
    }
    let of_theme: Vec<usize> = raw.iter().map(|&t| renumber[t]).collect();
    let central_theme = totals
        .iter()
        .map(|&(_, _, old)| {
            let centre = centres.row(old);
            (0..themes)
                .filter(|&theme| raw[theme] == old)
                .max_by(|&a, &b| {
                    // An empty (named) theme names no topic while another can.
                    let (sa, sb) = (centroids.row(a).dot(&centre), centroids.row(b).dot(&centre));
                    (sizes[a] > 0)
                        .cmp(&(sizes[b] > 0))
                        .then(sa.total_cmp(&sb))
                        .then(b.cmp(&a))
                })
                .expect("a topic has a theme")
        })
        .collect();
    Ok(Topics {
        of_theme,
        central_theme,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn topic_count_grows_slowly() {
        assert_eq!(
            [1, 3, 4, 7, 13, 50, 100].map(topic_count),
            [1, 1, 2, 2, 3, 5, 7]
        );
    }

    #[test]
    fn nearby_themes_share_a_topic_named_after_the_central_one() {
        let c = array![
            [1.0f32, 0.0],
            [0.0, 1.0],
            [0.98, 0.199],
            [0.199, 0.98],
            [0.995, 0.0998]
        ];
        let topics = group(&c, &[5, 50, 5, 5, 5], 42).unwrap();
        // Themes 1 and 3 hold 55 paragraphs: topic 0; 0, 2 and 4 (15): topic 1.
        assert_eq!(topics.of_theme, vec![1, 0, 1, 0, 1]);
        assert_eq!(topics.central_theme[1], 4);
    }
}
