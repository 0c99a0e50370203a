//! Values kept by key for inputs that come in runs of one key, as a node's invocation records
//! do (one function at a time, mostly): the last key used is compared before any hashing.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::Hash;

pub struct RunKeyed<K, V> {
    /// Each key's value, in the order the keys were first seen.
    entries: Vec<(K, V)>,
    /// Where each key's entry is.
    index: HashMap<K, usize>,
    last: usize,
}

impl<K, V> Default for RunKeyed<K, V> {
    fn default() -> Self {
        RunKeyed {
            entries: Vec::new(),
            index: HashMap::new(),
            last: 0,
        }
    }
}

impl<K: Hash + Eq + Clone, V> RunKeyed<K, V> {
    /// The value of `key`, made by `make` the first time the key is seen.
    pub fn entry<Q>(&mut self, key: &Q, make: impl FnOnce(&Q) -> V) -> &mut V
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let same_as_last = self
            .entries
            .get(self.last)
            .is_some_and(|(last, _)| last.borrow() == key);
        if !same_as_last {
            self.last = match self.index.get(key) {
                Some(&at) => at,
                None => {
                    let owned = key.to_owned();
                    self.entries.push((owned.clone(), make(key)));
                    self.index.insert(owned, self.entries.len() - 1);
                    self.entries.len() - 1
                }
            };
        }
        &mut self.entries[self.last].1
    }

    /// The keys and their values, in the order the keys were first seen.
    pub fn into_entries(self) -> Vec<(K, V)> {
        self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_keys_each_keep_their_own_value() {
        let mut made = 0;
        let mut counts: RunKeyed<String, u32> = RunKeyed::default();
        for key in ["a", "a", "b", "a", "c", "b"] {
            *counts.entry(key, |_| {
                made += 1;
                0
            }) += 1;
        }
        let entries = counts.into_entries();
        let expected = [("a", 3), ("b", 2), ("c", 1)].map(|(k, n)| (k.to_string(), n));
        assert_eq!(entries, expected);
        assert_eq!(made, 3, "a value is made once per key");
    }
}
