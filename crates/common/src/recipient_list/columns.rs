//! Header names as people write them: `Name`, ` name `, `NAME` and `first name`/`first-name`/
//! `first_name` each name one column, and a column satisfies a template variable whose name
//! folds to the same text.

use super::ListError;

/// Header names (folded, then without `_` and `.`) that hold the address.
const ADDRESS_HEADERS: &[&str] = &[
    "email",
    "emailaddress",
    "mail",
    "mailaddress",
    "이메일",
    "이메일주소",
    "메일",
    "메일주소",
    "전자우편",
    "전자메일",
];

/// A name as it is compared: trimmed, Unicode case-folded, and every run of spaces, `-` and `_`
/// made one `_`.
pub fn fold(name: &str) -> String {
    let folded = caseless::default_case_fold_str(name.trim());
    let mut out = String::with_capacity(folded.len());
    let mut in_separator = false;
    for c in folded.chars() {
        if matches!(c, ' ' | '-' | '_') {
            in_separator = true;
            continue;
        }
        if std::mem::take(&mut in_separator) && !out.is_empty() {
            out.push('_');
        }
        out.push(c);
    }
    out
}

/// How the address column was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressFoundBy {
    /// Its header is one of the usual names (`email`, `E-Mail`, `이메일`, ...).
    Name,
    /// No header is: it is the column whose values are addresses.
    Content,
    /// The user named it (`emailColumn`).
    Chosen,
}

/// Of the first rows' values in a column, the share that must be addresses for the column to
/// be taken as the address column when no header names one.
const CONTENT_SHARE: f64 = 0.8;

/// The list's columns: their header names and the name each one's values go by.
#[derive(Debug, Clone)]
pub(super) struct Columns {
    pub headers: Vec<String>,
    /// Per column, the key of its values in a recipient's variables: the template's own
    /// spelling once matched, the header until then.
    pub keys: Vec<String>,
    pub address: usize,
    pub found_by: AddressFoundBy,
}

impl Columns {
    /// From the header row: refuses two columns with the same folded name and a header with
    /// no address column.
    pub fn new(headers: Vec<String>) -> Result<Self, ListError> {
        Self::choosing(headers, None, &[])
    }

    /// From the header row: the column named `chosen` (a header name, matched as variables
    /// are, or a 1-based column number) holds the address; without one, the column with a
    /// usual address header, else the one whose values in `sample` (the first data rows) are
    /// addresses.
    pub fn choosing(headers: Vec<String>, chosen: Option<&str>, sample: &[Vec<String>]) -> Result<Self, ListError> {
        let folded: Vec<String> = headers.iter().map(|h| fold(h)).collect();
        let by_name = folded.iter().position(|name| ADDRESS_HEADERS.contains(&name.replace(['_', '.'], "").as_str()));
        // A first row that holds an address is data, not names: saying what was found would
        // put that address into logs and the campaign's reason.
        if by_name.is_none() && chosen.is_none() && headers.iter().any(|h| h.contains('@')) {
            return Err(ListError::NoHeaderRow);
        }
        for (i, name) in folded.iter().enumerate().filter(|(_, name)| !name.is_empty()) {
            if let Some(j) = folded[..i].iter().position(|earlier| earlier == name) {
                return Err(ListError::SameColumnTwice { first: headers[j].clone(), second: headers[i].clone() });
            }
        }
        if let Some(chosen) = chosen {
            let by_number = chosen.trim().parse::<usize>().ok().filter(|n| (1..=headers.len()).contains(n));
            let address = match by_number {
                Some(n) => Some(n - 1),
                None => folded.iter().position(|name| !name.is_empty() && *name == fold(chosen)),
            };
            let address = address
                .ok_or_else(|| ListError::NoChosenColumn { chosen: chosen.to_string(), columns: headers.clone() })?;
            return Ok(Self { keys: headers.clone(), headers, address, found_by: AddressFoundBy::Chosen });
        }
        if let Some(address) = by_name {
            return Ok(Self { keys: headers.clone(), headers, address, found_by: AddressFoundBy::Name });
        }
        let address = by_content(headers.len(), sample).ok_or_else(|| ListError::NoAddressColumn(headers.clone()))?;
        Ok(Self { keys: headers.clone(), headers, address, found_by: AddressFoundBy::Content })
    }

    /// The address column's header, or its number when it has none.
    pub fn address_name(&self) -> String {
        match self.headers[self.address].as_str() {
            "" => format!("column {}", self.address + 1),
            name => name.to_string(),
        }
    }

    /// Columns other than the address, with their keys.
    pub fn variables(&self) -> impl Iterator<Item = (usize, &String)> {
        self.keys.iter().enumerate().filter(move |(i, key)| *i != self.address && !key.is_empty())
    }

    /// Names the columns that satisfy `wanted` variables after them; answers the variables no
    /// column satisfies.
    pub fn match_variables<'v>(&mut self, wanted: impl IntoIterator<Item = &'v str>) -> Vec<String> {
        let mut missing = Vec::new();
        for variable in wanted {
            let name = fold(variable);
            let column = (0..self.headers.len())
                .find(|i| *i != self.address && !name.is_empty() && fold(&self.headers[*i]) == name);
            match column {
                Some(i) => self.keys[i] = variable.to_string(),
                None => missing.push(variable.to_string()),
            }
        }
        missing
    }
}

/// The column most of whose values in `sample` are addresses (at least [`CONTENT_SHARE`] of
/// its non-empty ones); the first of equals.
fn by_content(columns: usize, sample: &[Vec<String>]) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    for column in 0..columns {
        let values: Vec<&str> =
            sample.iter().filter_map(|row| row.get(column)).map(|v| v.trim()).filter(|v| !v.is_empty()).collect();
        let addresses = values.iter().filter(|v| crate::domain::EmailAddress::parse(v).is_ok()).count();
        if addresses > 0
            && addresses as f64 >= CONTENT_SHARE * values.len() as f64
            && best.is_none_or(|(_, most)| addresses > most)
        {
            best = Some((column, addresses));
        }
    }
    best.map(|(column, _)| column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(headers: &[&str]) -> Result<Columns, ListError> {
        Columns::new(headers.iter().map(|h| h.to_string()).collect())
    }

    #[test]
    fn names_fold_case_spaces_dashes_and_underscores() {
        for (a, b) in [
            ("Name", "name"),
            (" NAME ", "name"),
            ("First Name", "first_name"),
            ("first-name", "FIRST__NAME"),
            ("Straße", "STRASSE"),
            ("ΣΟΦΙΑ", "σοφια"),
            ("이름", " 이름"),
        ] {
            assert_eq!(fold(a), fold(b), "{a} / {b}");
        }
        assert_ne!(fold("firstname"), fold("first name"));
        assert_ne!(fold("name1"), fold("name"));
    }

    #[test]
    fn a_capitalised_column_satisfies_the_templates_variable_under_the_templates_spelling() {
        let mut list = columns(&["Email", "Name", "First Name", "Tier"]).unwrap();
        assert_eq!(list.address, 0);
        let missing = list.match_variables(["name", "first_name", "coupon"]);
        assert_eq!(missing, ["coupon"]);
        let keys: Vec<&str> = list.variables().map(|(_, k)| k.as_str()).collect();
        assert_eq!(keys, ["name", "first_name", "Tier"]);
    }

    #[test]
    fn two_columns_that_fold_to_one_name_are_refused_naming_both() {
        let err = columns(&["email", "Name", "name "]).unwrap_err();
        assert!(matches!(&err, ListError::SameColumnTwice { first, second } if first == "Name" && second == "name "));
        assert!(err.to_string().contains("'Name' and 'name '"), "{err}");
        // Empty headers do not collide: they are not variables.
        assert!(columns(&["email", "", ""]).is_ok());
    }

    #[test]
    fn the_address_column_is_found_however_it_is_written() {
        for header in ["E-Mail", "email address", "EMAIL_ADDRESS", "e.mail", "이메일 주소", "Mail"] {
            assert_eq!(columns(&["name", header]).unwrap().address, 1, "{header}");
        }
        assert!(matches!(columns(&["name", "phone"]), Err(ListError::NoAddressColumn(_))));
    }
}
