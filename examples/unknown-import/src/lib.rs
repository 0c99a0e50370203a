//! Calls `test:unknown/oracle`, which no host provides.

wit_bindgen::generate!({ world: "needs-oracle", path: "wit" });

struct Asker;

impl Guest for Asker {
    fn ask() -> u32 {
        test::unknown::oracle::answer()
    }
}

export!(Asker);
