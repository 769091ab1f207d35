//! What commands print: aligned columns for people, the API's JSON for scripts.

use serde_json::Value;

/// Prints `rows` under `headers`, each column as wide as its widest cell.
pub fn print(out: &mut dyn std::io::Write, headers: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
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

/// A JSON field as text: strings bare, numbers as numbers, absent as "-".
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
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
