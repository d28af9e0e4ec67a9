//! Builds a SentencePiece `precompiled_charsmap`, the normalization table that
//! the `Precompiled` normalizer of a tokenizer.json reads.
//!
//! The format is a darts-clone double array that maps the UTF-8 bytes of a key
//! to an offset into a blob of NUL-terminated replacement strings, preceded by
//! the array's size in bytes. Writing it ourselves lets a per-code-point
//! normalization map (as shipped by the packaged model) travel inside a plain
//! Hugging Face tokenizer.json.

use std::collections::{BTreeMap, HashMap};

/// Offsets are stored in 22 bits of a unit; arrays of our size never need the
/// extended (shifted) form.
const MAX_OFFSET: usize = 1 << 21;
const LEAF_BIT: u32 = 1 << 31;
const HAS_LEAF_BIT: u32 = 1 << 8;
const BLOCK: usize = 256;

#[derive(Default)]
struct TrieNode {
    children: BTreeMap<u8, usize>,
    value: Option<u32>,
}

/// Returns the charsmap bytes for `map`: each code point is replaced by its
/// string (an empty string deletes it).
pub fn build(map: &[(char, String)]) -> Vec<u8> {
    let (blob, values) = replacement_blob(map);
    let trie = key_trie(map, &values);
    let units = double_array(&trie);

    let mut out = Vec::with_capacity(4 + units.len() * 4 + blob.len());
    out.extend_from_slice(&((units.len() * 4) as u32).to_le_bytes());
    for unit in &units {
        out.extend_from_slice(&unit.to_le_bytes());
    }
    out.extend_from_slice(&blob);
    out
}

/// Lays out each distinct replacement once, NUL-terminated.
fn replacement_blob(map: &[(char, String)]) -> (Vec<u8>, Vec<u32>) {
    let mut blob = Vec::new();
    let mut seen: HashMap<&str, u32> = HashMap::new();
    let values = map
        .iter()
        .map(|(_, replacement)| {
            *seen.entry(replacement.as_str()).or_insert_with(|| {
                let offset = blob.len() as u32;
                blob.extend_from_slice(replacement.as_bytes());
                blob.push(0);
                offset
            })
        })
        .collect();
    (blob, values)
}

fn key_trie(map: &[(char, String)], values: &[u32]) -> Vec<TrieNode> {
    let mut nodes = vec![TrieNode::default()];
    for ((key, _), &value) in map.iter().zip(values) {
        let mut buf = [0u8; 4];
        let mut node = 0;
        for &byte in key.encode_utf8(&mut buf).as_bytes() {
            node = match nodes[node].children.get(&byte) {
                Some(&child) => child,
                None => {
                    nodes.push(TrieNode::default());
                    let child = nodes.len() - 1;
                    nodes[node].children.insert(byte, child);
                    child
                }
            };
        }
        nodes[node].value = Some(value);
    }
    nodes
}

/// Places every trie node so that child `c` of a node whose base is `b` sits
/// at `b ^ c`, and a node's value sits at `b ^ 0`. Bases are unique, because
/// the lookup checks only the label, not the parent.
fn double_array(trie: &[TrieNode]) -> Vec<u32> {
    let mut units: Vec<u32> = vec![0; BLOCK];
    let mut used: Vec<bool> = vec![false; BLOCK];
    let mut used_bases = std::collections::HashSet::new();
    used[0] = true;
    let mut first_free = 1;

    let mut queue = std::collections::VecDeque::from([(0usize, 0usize)]);
    while let Some((node_id, pos)) = queue.pop_front() {
        let node = &trie[node_id];
        let mut labels: Vec<usize> = Vec::new();
        if node.value.is_some() {
            labels.push(0);
        }
        labels.extend(node.children.keys().map(|&b| b as usize));
        if labels.is_empty() {
            continue;
        }

        while first_free < used.len() && used[first_free] {
            first_free += 1;
        }
        let base = find_base(&labels, &mut used, &mut units, &used_bases, first_free);
        used_bases.insert(base);
        let offset = pos ^ base;
        assert!(offset < MAX_OFFSET, "charsmap too large for a plain offset");
        units[pos] |= ((offset as u32) << 10)
            | if node.value.is_some() {
                HAS_LEAF_BIT
            } else {
                0
            };

        if let Some(value) = node.value {
            used[base] = true;
            units[base] = value | LEAF_BIT;
        }
        for (&label, &child) in &node.children {
            let child_pos = base ^ label as usize;
            used[child_pos] = true;
            units[child_pos] = label as u32;
            queue.push_back((child, child_pos));
        }
    }
    units
}

fn find_base(
    labels: &[usize],
    used: &mut Vec<bool>,
    units: &mut Vec<u32>,
    used_bases: &std::collections::HashSet<usize>,
    first_free: usize,
) -> usize {
    let mut candidate = first_free;
    loop {
        if candidate >= used.len() {
            // Grow by whole blocks so that `base ^ byte` always stays in bounds.
            used.resize(used.len() + BLOCK, false);
            units.resize(units.len() + BLOCK, 0);
        }
        if !used[candidate] {
            let base = candidate ^ labels[0];
            if base != 0 && !used_bases.contains(&base) && labels.iter().all(|&l| !used[base ^ l]) {
                return base;
            }
        }
        candidate += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::normalizers::Precompiled;

    #[test]
    fn precompiled_normalizer_reads_what_we_build() {
        let map = vec![
            ('\u{1}', String::new()),
            ('\t', " ".to_string()),
            ('ﬁ', "fi".to_string()),
            ('Ａ', "A".to_string()),
            ('①', "1".to_string()),
            ('\u{2581}', " ".to_string()),
        ];
        let charsmap = build(&map);
        let normalizer = Precompiled::from(&charsmap).expect("valid charsmap");
        assert_eq!(
            normalizer.normalize_string("a\u{1}b\tﬁＡ① x\u{2581}y"),
            "ab fiA1 x y"
        );
        assert_eq!(normalizer.normalize_string("plain"), "plain");
    }

    #[test]
    fn thousands_of_keys_round_trip() {
        let map: Vec<(char, String)> = (0x4E00u32..0x5E00)
            .filter_map(char::from_u32)
            .map(|c| (c, format!("<{}>", c as u32)))
            .collect();
        let normalizer = Precompiled::from(&build(&map)).expect("valid charsmap");
        for (c, expected) in map.iter().step_by(97) {
            assert_eq!(normalizer.normalize_string(&c.to_string()), *expected);
        }
        assert_eq!(normalizer.normalize_string("ab"), "ab");
    }
}
