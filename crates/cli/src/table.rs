//! What commands print: aligned columns for people, the API's JSON for scripts.

use serde_json::Value;

/// Prints `rows` under `headers`, each column as wide as its widest cell.
pub fn print(out: &mut dyn std::io::Write, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(printable(cell).chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{:<w$}", printable(c))).collect();
        padded.join("  ").trim_end().to_string()
    };
    let _ = writeln!(out, "{}", line(headers.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        let _ = writeln!(out, "(none)");
    }
}

/// A JSON field as text: strings bare (but [`printable`]), numbers as numbers, absent as "-".
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => printable(s),
        other => other.to_string(),
    }
}

/// `text` safe for a terminal: a list's cells, column names and the reasons that quote them
/// come from whoever wrote the list, and a control character (an escape sequence that moves
/// the cursor, retitles the window or rewrites what was printed) or a bidirectional override
/// is shown escaped (`\u{1b}`), never obeyed.
pub fn printable(text: &str) -> String {
    let unsafe_char = |c: char| {
        (c.is_control() && !matches!(c, '\n' | '\t')) || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(unsafe_char) {
        return text.to_string();
    }
    text.chars().map(|c| if unsafe_char(c) { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

/// Prints the JSON; `Ok` so a command can end with it.
pub fn json(out: &mut dyn std::io::Write, value: &Value) -> Result<(), crate::CliError> {
    let _ = writeln!(out, "{}", serde_json::to_string_pretty(value).unwrap_or_default());
    Ok(())
}

/// `name: value` lines.
pub fn fields(out: &mut dyn std::io::Write, pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        let _ = writeln!(out, "{k:<width$}  {v}");
    }
}

#[cfg(test)]
mod printable_tests {
    use super::*;

    #[test]
    fn a_cell_with_an_escape_sequence_is_printed_escaped_not_obeyed() {
        let cell_value = Value::String("Kim\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}txt.exe".into());
        assert_eq!(cell(&cell_value), "Kim\\u{1b}]0;owned\\u{7}\\u{1b}[2J\\u{202e}txt.exe");
        assert_eq!(printable("김민수, café"), "김민수, café", "letters of any script are left alone");
        assert_eq!(printable("line one\n\tline two\r"), "line one\n\tline two\\u{d}", "line breaks and tabs stay");
        let mut out = Vec::new();
        print(&mut out, &["NAME"], &[vec!["a\u{1b}[31mred".into()]]);
        let printed = String::from_utf8(out).unwrap();
        assert!(!printed.contains('\u{1b}') && printed.contains("a\\u{1b}[31mred"), "{printed:?}");
    }
}
