//! Aliases: named pointers to versions that callers use instead of "the latest". Moving one
//! takes effect at the next call; the version it left stays loaded while calls still reach it.

use gust_core::{Alias, Error, ErrorKind, Selector, Split, Target, now_ms, validate_alias_name};

use crate::Dispatcher;
use crate::pointers::no_alias;

impl Dispatcher {
    /// A function's aliases, by name.
    pub async fn aliases(&self, function: &str) -> Result<Vec<Alias>, Error> {
        self.function(function).await?;
        self.aliases.aliases(function).await
    }

    /// Checks that `target` (`FN`, `FN@ALIAS`, `FN@N`) names something that can be called.
    pub async fn check_target(&self, target: &str) -> Result<(), Error> {
        let parsed = Target::parse(target)?;
        let function = parsed.function;
        let pointers = self.pointers(function).await?;
        match parsed.selector {
            Selector::Alias(alias) if !pointers.aliases.contains_key(alias) => {
                Err(no_alias(function, alias))
            }
            selector => pointers.pick(function, selector).map(drop),
        }
    }

    /// Points `name` at `version`, sending `split`'s share to another version. The version
    /// it pointed to before is kept for `rollback`.
    pub async fn set_alias(
        &self,
        function: &str,
        name: &str,
        version: u32,
        split: Option<Split>,
    ) -> Result<Alias, Error> {
        validate_alias_name(name)?;
        Alias::validate_pointing(version, split)?;
        let latest = self.function(function).await?.latest.number;
        for number in std::iter::once(version).chain(split.map(|s| s.version)) {
            if number > latest {
                return Err(Error::not_found(format!(
                    "function `{function}` has no version {number}; its latest is {latest}"
                )));
            }
        }
        let current = self.alias(function, name).await?;
        let previous = match &current {
            Some(current) if current.version != version => Some(current.version),
            Some(current) => current.previous,
            None => None,
        };
        self.move_alias(Alias {
            function: function.to_string(),
            name: name.to_string(),
            version,
            split,
            previous,
            updated_at_ms: now_ms(),
        })
        .await
    }

    /// Moves an alias back to the version it pointed to before, with no split.
    pub async fn rollback(&self, function: &str, name: &str) -> Result<Alias, Error> {
        let current = self
            .alias(function, name)
            .await?
            .ok_or_else(|| no_alias(function, name))?;
        let previous = current.previous.ok_or_else(|| {
            Error::new(
                ErrorKind::Conflict,
                format!(
                    "alias `{name}` of `{function}` has pointed only to version {}: \
                     there is nothing to roll back to",
                    current.version
                ),
            )
        })?;
        self.move_alias(Alias {
            version: previous,
            split: None,
            previous: Some(current.version),
            updated_at_ms: now_ms(),
            ..current
        })
        .await
    }

    pub async fn remove_alias(&self, function: &str, name: &str) -> Result<(), Error> {
        self.function(function).await?;
        if !self.aliases.delete_alias(function, name).await? {
            return Err(no_alias(function, name));
        }
        self.refresh_pointers(function).await?;
        self.release_unpointed(function);
        Ok(())
    }

    async fn alias(&self, function: &str, name: &str) -> Result<Option<Alias>, Error> {
        let aliases = self.aliases(function).await?;
        Ok(aliases.into_iter().find(|a| a.name == name))
    }

    async fn move_alias(&self, alias: Alias) -> Result<Alias, Error> {
        let function = alias.function.clone();
        self.aliases.put_alias(alias.clone()).await?;
        self.refresh_pointers(&function).await?;
        self.release_unpointed(&function);
        Ok(alias)
    }
}
