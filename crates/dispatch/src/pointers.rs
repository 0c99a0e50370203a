//! Where a function's callers go: its latest version and its aliases, kept in memory per
//! function so that a call reads no store. Every change made through the dispatcher (deploy,
//! alias, delete) reads them again from the store.

use std::collections::HashMap;
use std::sync::Arc;

use gust_core::{Alias, Error, Selector};

pub(crate) struct Pointers {
    pub latest: u32,
    pub aliases: HashMap<String, Alias>,
}

impl Pointers {
    pub fn new(latest: u32, aliases: Vec<Alias>) -> Arc<Pointers> {
        let aliases = aliases.into_iter().map(|a| (a.name.clone(), a)).collect();
        Arc::new(Pointers { latest, aliases })
    }

    /// The version a call with `selector` runs; a split alias rolls the dice.
    pub fn pick(&self, function: &str, selector: Selector) -> Result<u32, Error> {
        match selector {
            Selector::Latest => Ok(self.latest),
            Selector::Number(n) if n <= self.latest => Ok(n),
            Selector::Number(n) => Err(Error::not_found(format!(
                "function `{function}` has no version {n}; its latest is {}",
                self.latest
            ))),
            Selector::Alias(name) => {
                let alias = self
                    .aliases
                    .get(name)
                    .ok_or_else(|| no_alias(function, name))?;
                let roll = match alias.split {
                    Some(_) => rand::random_range(0..100),
                    None => 0,
                };
                Ok(alias.pick(roll))
            }
        }
    }

    /// Whether the latest version or an alias sends calls to `number`.
    pub fn points_at(&self, number: u32) -> bool {
        number == self.latest
            || self
                .aliases
                .values()
                .any(|alias| alias.versions().any(|v| v == number))
    }
}

pub(crate) fn no_alias(function: &str, name: &str) -> Error {
    Error::not_found(format!(
        "function `{function}` has no alias `{name}`; `gust alias ls {function}` lists them"
    ))
}
