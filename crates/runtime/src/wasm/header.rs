use crate::LoadError;

const MAGIC: &[u8; 4] = b"\0asm";

/// Reads the 8-byte preamble so that a wrong file gets a precise error before compiling.
pub fn check_component_header(bytes: &[u8]) -> Result<(), LoadError> {
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::Invalid(
            "the artifact is not a WebAssembly binary (it lacks the `\\0asm` header); \
             build a component with `cargo build --target wasm32-wasip2`"
                .into(),
        ));
    }
    // Bytes 6..8 are the layer: 0 for a core module, 1 for a component.
    match bytes[6..8] {
        [1, 0] => Ok(()),
        [0, 0] => Err(LoadError::Invalid(
            "the artifact is a core WebAssembly module, not a component; build for \
             wasm32-wasip2 or wrap it with `wasm-tools component new`"
                .into(),
        )),
        _ => Err(LoadError::Invalid(
            "the artifact has an unknown WebAssembly layer or version".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(bytes: &[u8]) -> String {
        check_component_header(bytes).unwrap_err().to_string()
    }

    #[test]
    fn tells_what_the_file_is() {
        assert!(message(b"hello world").contains("not a WebAssembly binary"));
        assert!(message(b"\0asm\x01\0\0\0").contains("core WebAssembly module"));
        assert!(check_component_header(b"\0asm\x0d\0\x01\0").is_ok());
    }
}
