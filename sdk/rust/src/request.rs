use serde::de::DeserializeOwned;

use crate::Response;

/// An HTTP request, read whole.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path and query the function was called with, e.g. `/items/7?full=1`.
    pub path_with_query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Request {
    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_with_query
            .split_once('?')
            .map_or(self.path_with_query.as_str(), |(path, _)| path)
    }

    /// The first value of a query parameter, percent-decoded.
    pub fn query(&self, key: &str) -> Option<String> {
        let (_, query) = self.path_with_query.split_once('?')?;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (k == key).then(|| percent_decode(v))
        })
    }

    /// The first value of a header (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| std::str::from_utf8(v).ok())
    }

    /// A parameter of the route that called the function: `id` of `/api/todos/{id}`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.header(&format!("x-gust-param-{name}"))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; the error is a ready 400 response saying what was wrong.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Response> {
        serde_json::from_slice(&self.body)
            .map_err(|e| Response::text(format!("invalid JSON body: {e}")).with_status(400))
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> Request {
        Request {
            method: "GET".into(),
            path_with_query: path.into(),
            headers: vec![
                ("Content-Type".into(), b"text/plain".to_vec()),
                ("x-gust-param-id".into(), b"7".to_vec()),
            ],
            body: Vec::new(),
        }
    }

    #[test]
    fn reads_path_query_and_headers() {
        let req = request("/a/b?name=J%C3%BCrgen+K&x");
        assert_eq!(req.path(), "/a/b");
        assert_eq!(req.query("name").as_deref(), Some("Jürgen K"));
        assert_eq!(req.query("x").as_deref(), Some(""));
        assert_eq!(req.query("y"), None);
        assert_eq!(req.header("content-type"), Some("text/plain"));
        assert_eq!(req.param("id"), Some("7"));
    }
}
