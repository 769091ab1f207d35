//! Which character separates a CSV list's fields: comma, semicolon (European Excel) or tab
//! (`.tsv`), told from the header row and, when the header alone cannot tell, the rows below.

use super::ListError;

const CANDIDATES: [(u8, &str); 3] = [(b',', "comma"), (b';', "semicolon"), (b'\t', "tab")];

/// Lines below the header that are looked at when the header holds more than one candidate.
const SAMPLE_ROWS: usize = 10;

/// The delimiter of `text`, the list's first bytes as UTF-8 or CP949 with LF line endings
/// (every candidate is ASCII, so neither encoding hides one inside a character).
pub(super) fn sniff(text: &[u8]) -> Result<u8, ListError> {
    let lines = counted_lines(text);
    let Some((header, rows)) = lines.split_first() else {
        return Ok(b',');
    };
    let present: Vec<usize> = (0..CANDIDATES.len()).filter(|c| header[*c] > 0).collect();
    match present.as_slice() {
        [] => Ok(b','),
        [only] => Ok(CANDIDATES[*only].0),
        several => {
            // The rows below a header split as it does when the delimiter is the right one.
            let sampled = &rows[..rows.len().min(SAMPLE_ROWS)];
            let consistent: Vec<usize> = several
                .iter()
                .copied()
                .filter(|c| !sampled.is_empty() && sampled.iter().all(|row| row[*c] == header[*c]))
                .collect();
            match consistent.as_slice() {
                [only] => Ok(CANDIDATES[*only].0),
                _ => Err(ListError::UndecidableDelimiter(
                    several.iter().map(|c| CANDIDATES[*c].1).collect::<Vec<_>>().join(", "),
                )),
            }
        }
    }
}

/// Per complete, non-blank line (a quoted field may span lines), how often each candidate
/// occurs outside quotes.
fn counted_lines(text: &[u8]) -> Vec<[usize; 3]> {
    let mut lines = Vec::new();
    let (mut counts, mut in_quotes, mut blank) = ([0usize; 3], false, true);
    for &byte in text {
        match byte {
            b'"' => {
                in_quotes = !in_quotes;
                blank = false;
            }
            b'\n' if !in_quotes => {
                if !blank {
                    lines.push(counts);
                    if lines.len() > SAMPLE_ROWS {
                        break;
                    }
                }
                (counts, blank) = ([0; 3], true);
            }
            _ if in_quotes => {}
            _ => match CANDIDATES.iter().position(|(c, _)| *c == byte) {
                Some(c) => counts[c] += 1,
                None if byte.is_ascii_whitespace() => {}
                None => blank = false,
            },
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_rows_only_delimiter_is_the_lists() {
        assert_eq!(sniff(b"email,name\na@x.kr,Kim\n").unwrap(), b',');
        assert_eq!(sniff(b"email;name\na@x.kr;Kim, Min-su\n").unwrap(), b';');
        assert_eq!(sniff(b"email\tname\na@x.kr\tKim\n").unwrap(), b'\t');
        assert_eq!(sniff(b"email\na@x.kr\n").unwrap(), b',', "one column");
        assert_eq!(sniff(b"").unwrap(), b',');
    }

    #[test]
    fn delimiters_inside_quoted_header_names_and_blank_leading_lines_do_not_count() {
        assert_eq!(sniff(b"\n;;\n\"name, full\";email;\"a\nb\"\nKim;k@x.kr;1\n").unwrap(), b';');
        assert_eq!(sniff(b"\"e;mail\",\"name\tx\"\nk@x.kr,Kim\n").unwrap(), b',');
    }

    #[test]
    fn when_the_header_holds_two_the_rows_below_decide() {
        // A semicolon list whose header name holds a comma, unquoted.
        let text = b"email;name, full;tier\na@x.kr;Kim;gold\nb@x.kr;Lee;silver\n";
        assert_eq!(sniff(text).unwrap(), b';');
        let err = sniff(b"email;name,tier\n").unwrap_err();
        assert!(err.to_string().contains("comma, semicolon"), "{err}");
        let err = sniff(b"email;name,tier\na;b,c\n").unwrap_err();
        assert!(matches!(err, ListError::UndecidableDelimiter(_)));
    }
}
