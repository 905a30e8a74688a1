//! Majority arithmetic, kept pure and tiny so it can be table-tested on its own.

use crate::types::Index;

/// How many members make a majority of `members`.
pub fn majority(members: usize) -> usize {
    members / 2 + 1
}

/// The highest index that a majority of members have matched, given every member's match
/// index (the leader's own included). `scratch` is reused to avoid an allocation per call.
pub fn committed_index(
    matched: impl IntoIterator<Item = Index>,
    scratch: &mut Vec<Index>,
) -> Index {
    scratch.clear();
    scratch.extend(matched);
    if scratch.is_empty() {
        return 0;
    }
    scratch.sort_unstable_by(|a, b| b.cmp(a));
    scratch[majority(scratch.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_sizes() {
        let table = [(1, 1), (2, 2), (3, 2), (4, 3), (5, 3), (6, 4), (7, 4)];
        for (members, want) in table {
            assert_eq!(majority(members), want, "members={members}");
        }
    }

    #[test]
    fn committed_index_is_the_majority_match() {
        let table: &[(&[Index], Index)] = &[
            (&[], 0),
            (&[5], 5),
            (&[5, 3], 3),
            (&[5, 3, 1], 3),
            (&[1, 3, 5], 3),
            (&[7, 7, 0], 7),
            (&[0, 0, 9], 0),
            (&[4, 2, 9, 1], 2),
            (&[10, 9, 8, 1, 1], 8),
            (&[1, 2, 3, 4, 5, 6, 7], 4),
        ];
        let mut scratch = Vec::new();
        for &(matched, want) in table {
            assert_eq!(
                committed_index(matched.iter().copied(), &mut scratch),
                want,
                "matched={matched:?}"
            );
        }
    }
}
