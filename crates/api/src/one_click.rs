//! Whether a one-click unsubscribe POST asks to unsubscribe (RFC 8058 §3.1): a form field
//! `List-Unsubscribe` with the value `One-Click`, sent as `application/x-www-form-urlencoded` or
//! as `multipart/form-data` (the form the RFC's own example uses, and some mailbox providers).

/// The body's form fields say `List-Unsubscribe=One-Click`. Without a content type both forms
/// are tried.
pub fn asks_to_unsubscribe(content_type: Option<&str>, body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let media = content_type.map(|c| c.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    match media.as_deref() {
        Some("multipart/form-data") => {
            boundary(content_type.unwrap_or_default()).is_some_and(|b| in_multipart(&text, &b))
        }
        Some("application/x-www-form-urlencoded") => in_urlencoded(&text),
        _ => {
            in_urlencoded(&text)
                || text.lines().next().and_then(|l| l.strip_prefix("--")).is_some_and(|b| in_multipart(&text, b.trim()))
        }
    }
}

const FIELD: &str = "List-Unsubscribe";

fn is_one_click(name: &str, value: &str) -> bool {
    name.trim().eq_ignore_ascii_case(FIELD) && value.trim().eq_ignore_ascii_case("One-Click")
}

fn in_urlencoded(text: &str) -> bool {
    let decode = |s: &str| percent_decoded(&s.replace('+', " "));
    text.split('&')
        .filter_map(|field| field.split_once('='))
        .any(|(name, value)| is_one_click(&decode(name), &decode(value)))
}

fn percent_decoded(text: &str) -> String {
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
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `boundary` parameter of a multipart content type, unquoted.
fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim().eq_ignore_ascii_case("boundary").then(|| value.trim().trim_matches('"').to_string())
    })
}

/// Parts are cut at the boundary itself rather than at `--` + boundary, so a body whose
/// delimiter lines lack the two dashes (as the RFC's example prints them) reads the same.
fn in_multipart(text: &str, boundary: &str) -> bool {
    if boundary.is_empty() {
        return false;
    }
    text.split(boundary).any(|part| {
        let part = part.trim_start_matches(['\r', '\n']);
        let Some((headers, value)) = part.split_once("\r\n\r\n").or_else(|| part.split_once("\n\n")) else {
            return false;
        };
        let named = headers.lines().filter_map(|line| line.split_once(':')).any(|(header, params)| {
            header.trim().eq_ignore_ascii_case("Content-Disposition")
                && params.split(';').filter_map(|p| p.split_once('=')).any(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("name") && v.trim().trim_matches('"').eq_ignore_ascii_case(FIELD)
                })
        });
        named && is_one_click(FIELD, value.trim_end().trim_end_matches('-'))
    })
}

#[cfg(test)]
mod tests {
    use super::asks_to_unsubscribe;

    const URLENCODED: Option<&str> = Some("application/x-www-form-urlencoded");

    #[test]
    fn the_urlencoded_form_asks_and_other_fields_do_not() {
        assert!(asks_to_unsubscribe(URLENCODED, b"List-Unsubscribe=One-Click"));
        assert!(asks_to_unsubscribe(URLENCODED, b"a=b&List-Unsubscribe=One-Click"));
        assert!(asks_to_unsubscribe(URLENCODED, b"List%2DUnsubscribe=One%2DClick"));
        assert!(asks_to_unsubscribe(None, b"List-Unsubscribe=One-Click"));
        assert!(!asks_to_unsubscribe(URLENCODED, b"List-Unsubscribe=Maybe"));
        assert!(!asks_to_unsubscribe(URLENCODED, b"something=else"));
        assert!(!asks_to_unsubscribe(URLENCODED, b""));
    }

    /// RFC 8058 §3.1's example, as printed (delimiters with three dashes), and as a browser or
    /// a mail provider sends it (`--` + boundary, CRLF).
    #[test]
    fn the_multipart_form_of_rfc_8058_asks() {
        let rfc = "---FormBoundaryjWmhtjORrn\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n---FormBoundaryjWmhtjORrn--\r\n";
        let content_type = Some("multipart/form-data; boundary=---FormBoundaryjWmhtjORrn");
        assert!(asks_to_unsubscribe(content_type, rfc.as_bytes()));
        let browser = "------B\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n------B\r\ncontent-disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n------B--\r\n";
        assert!(asks_to_unsubscribe(Some("multipart/form-data; boundary=\"----B\""), browser.as_bytes()));
        assert!(asks_to_unsubscribe(None, browser.as_bytes()), "no content type: the body's own delimiter");
    }

    #[test]
    fn a_multipart_form_without_the_field_or_its_value_does_not_ask() {
        let other = "--B\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nNo\r\n--B--\r\n";
        assert!(!asks_to_unsubscribe(Some("multipart/form-data; boundary=B"), other.as_bytes()));
        let value_elsewhere = "--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nOne-Click\r\n--B--\r\n";
        assert!(!asks_to_unsubscribe(Some("multipart/form-data; boundary=B"), value_elsewhere.as_bytes()));
        assert!(!asks_to_unsubscribe(Some("multipart/form-data"), other.as_bytes()), "no boundary");
    }
}
