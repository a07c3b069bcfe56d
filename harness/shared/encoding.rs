//! Percent-encoding (RFC 3986), as URLs and S3 paths carry text.

/// `value` with every byte percent-encoded but the unreserved characters and those in `keep`.
pub fn percent_encoded(value: &str, keep: &[u8]) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ if keep.contains(&b) => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
