//! Reads what ListObjectsV2 answers: the keys of a page and the token of the next.

pub struct Page {
    pub keys: Vec<String>,
    pub next: Option<String>,
}

impl Page {
    pub fn read(xml: &str) -> Page {
        let truncated = elements(xml, "IsTruncated").next() == Some("true".into());
        Page {
            keys: elements(xml, "Key").collect(),
            next: elements(xml, "NextContinuationToken")
                .next()
                .filter(|_| truncated),
        }
    }
}

/// The text of every `<tag>...</tag>`, unescaped.
fn elements(xml: &str, tag: &str) -> impl Iterator<Item = String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let texts: Vec<String> = xml
        .split(open.as_str())
        .skip(1)
        .filter_map(|rest| rest.split_once(close.as_str()).map(|(text, _)| unescape(text)))
        .collect();
    texts.into_iter()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_keys_and_the_next_token() {
        let xml = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a&amp;b.jpg\
                   </Key></Contents><Contents><Key>c.png</Key></Contents>\
                   <NextContinuationToken>6332</NextContinuationToken></ListBucketResult>";
        let page = Page::read(xml);
        assert_eq!(page.keys, vec!["a&b.jpg", "c.png"]);
        assert_eq!(page.next.as_deref(), Some("6332"));
        let last = Page::read("<IsTruncated>false</IsTruncated><Key>z</Key>");
        assert_eq!(last.next, None);
    }
}
