//! `run --shard K/N`: the K-th of N deterministic slices of a suite, so that a CI matrix of N
//! runners replays a long suite in parallel and their JUnit files merge into the whole.

use std::path::PathBuf;

/// One slice of a suite: number `index` (from 1) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl std::str::FromStr for Shard {
    type Err = super::RunError;

    fn from_str(text: &str) -> Result<Self, super::RunError> {
        let bad = || super::RunError::BadShard(text.to_owned());
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = k.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Self { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// This shard's files: `files` sorted by path and cut into `count` runs of consecutive
    /// files whose sizes differ by one at most; the same files on every machine, whatever
    /// order they were found in.
    pub fn select(self, mut files: Vec<PathBuf>) -> Vec<PathBuf> {
        files.sort();
        files.dedup();
        let len = files.len();
        let start = (self.index - 1) * len / self.count;
        let end = self.index * len / self.count;
        files.drain(start..end).collect()
    }
}

/// The JUnit suite name of a run: `thingbench`, with the environment and shard when given, so
/// that merged files still say which runner replayed what.
pub fn suite_name(env: Option<&str>, shard: Option<Shard>) -> String {
    let mut name = "thingbench".to_owned();
    if let Some(env) = env {
        name.push_str(&format!(" env={env}"));
    }
    if let Some(shard) = shard {
        name.push_str(&format!(" shard={shard}"));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bad_shards_are_refused_in_words() {
        for bad in ["", "1", "0/3", "4/3", "a/b", "1/0", "-1/2"] {
            let err = bad.parse::<Shard>().expect_err(bad).to_string();
            assert!(err.starts_with("--shard: expected K/N"), "{err}");
        }
        assert_eq!(
            "2/4".parse::<Shard>().expect("a shard"),
            Shard { index: 2, count: 4 }
        );
    }

    proptest! {
        #[test]
        fn shards_cover_the_suite_once_and_differ_by_one_at_most(
            names in proptest::collection::btree_set("[a-z]{1,6}/[a-z0-9]{1,8}\\.json", 0..60),
            count in 1usize..5,
            rotate in 0usize..60,
        ) {
            let mut files: Vec<PathBuf> = names.iter().map(PathBuf::from).collect();
            let sorted = files.clone();
            // Found in another order on another machine: the same shards.
            if !files.is_empty() {
                let by = rotate % files.len();
                files.rotate_left(by);
            }
            let shards: Vec<Vec<PathBuf>> = (1..=count)
                .map(|index| Shard { index, count }.select(files.clone()))
                .collect();
            let union: Vec<PathBuf> = shards.iter().flatten().cloned().collect();
            prop_assert_eq!(&union, &sorted);
            let sizes: Vec<usize> = shards.iter().map(Vec::len).collect();
            let (min, max) = (sizes.iter().min().copied(), sizes.iter().max().copied());
            prop_assert!(max.unwrap_or(0) - min.unwrap_or(0) <= 1, "{:?}", sizes);
        }
    }

    #[test]
    fn the_suite_name_says_environment_and_shard() {
        assert_eq!(suite_name(None, None), "thingbench");
        let shard = Shard { index: 2, count: 3 };
        assert_eq!(
            suite_name(Some("lab"), Some(shard)),
            "thingbench env=lab shard=2/3"
        );
    }
}
