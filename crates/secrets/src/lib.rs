//! Secrets for functions: values kept encrypted at rest (ChaCha20-Poly1305, with the node's
//! secret key), held decrypted in memory only, and handed to the functions granted them as
//! variables when their versions are loaded.

mod key;
mod seal;
mod vault;

pub use key::SecretKey;
pub use vault::SecretVault;
