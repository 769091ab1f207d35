//! Reading a recipient list as a stream of rows, from CSV or TSV text ([`csv_rows`]: the
//! encoding detected — UTF-8 with or without BOM, UTF-16 with BOM, otherwise CP949/EUC-KR as
//! Korean Excel writes it or Windows-1252 as Western-European Excel does — and the delimiter
//! sniffed) or from an Excel workbook's first sheet
//! ([`workbook`]). The header row names the variables ([`columns`]: names match as people write
//! them), the address column is found by name, and every row comes out as a recipient, a
//! duplicate, or a rejected row with its reason. Nothing is held but the current row and the
//! set of addresses seen, whose memory stays flat beyond a fixed size ([`seen`]).

mod columns;
mod csv_rows;
mod delimiter;
mod seen;
mod text;
mod workbook;

use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read, Seek};

use crate::domain::{EmailAddress, RecipientId, RejectedRow};

pub use columns::fold as fold_column_name;
pub use columns::AddressFoundBy;
use columns::Columns;
use csv_rows::CsvRows;
use seen::SeenIds;
pub use seen::DEFAULT_MEMORY_IDS;
pub use text::TextEncoding;
use workbook::SheetRows;

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("the list is empty: it has no header row")]
    Empty,
    #[error("the workbook's first sheet, '{0}', is empty (only the first sheet is read)")]
    EmptySheet(String),
    #[error(
        "no column holds the e-mail address: no header such as 'email' or '이메일', and no column whose first \
         values are addresses, among {0:?}; name it with emailColumn (--email-column)"
    )]
    NoAddressColumn(Vec<String>),
    #[error("the first row holds an address, not column names: add a header row such as 'email,name'")]
    NoHeaderRow,
    #[error("the list has no column '{chosen}' (named as the address column); its columns: {columns:?}")]
    NoChosenColumn { chosen: String, columns: Vec<String> },
    #[error(
        "the columns '{first}' and '{second}' have the same name once case, spaces, '-' and '_' are set aside; rename one"
    )]
    SameColumnTwice { first: String, second: String },
    #[error(
        "the header row can be split at more than one of {0}, and the rows below do not tell which: \
         quote the header names that hold one of them"
    )]
    UndecidableDelimiter(String),
    #[error("the list is an Excel workbook, not CSV text: upload it as .xlsx (content type {XLSX_CONTENT_TYPE})")]
    WorkbookAsCsv,
    #[error("the list is an Excel 97-2003 workbook (.xls): save it as .xlsx or as CSV UTF-8 and upload that")]
    OldWorkbook,
    #[error("the list is an OpenDocument spreadsheet (.ods): save it as .xlsx or as CSV UTF-8 and upload that")]
    OpenDocument,
    #[error("the workbook cannot be read: {0}")]
    Workbook(String),
    #[error("the address {0}")]
    InvalidAddress(String),
    #[error("the list is not valid CSV near line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error("reading the list failed: {0}")]
    Io(#[from] io::Error),
}

/// The content type of an Excel workbook (`.xlsx`).
pub const XLSX_CONTENT_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// An OLE compound file's first bytes: an Excel 97-2003 workbook (.xls).
pub(crate) const OLE_MAGIC: &[u8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1";

/// An OpenDocument file's first bytes after its zip header: its `mimetype` entry, stored first.
pub(crate) const ODS_MIMETYPE: &[u8] = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet";

/// Whether a file's first bytes are an OpenDocument spreadsheet's.
pub(crate) fn is_open_document(head: &[u8]) -> bool {
    head.starts_with(b"PK\x03\x04") && head.windows(ODS_MIMETYPE.len()).take(64).any(|w| w == ODS_MIMETYPE)
}

/// Whether the list uploaded at `key` is an Excel workbook (its key ends in `.xlsx`).
pub fn is_workbook(key: &str) -> bool {
    key.ends_with(".xlsx")
}

/// One data row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListRow {
    Recipient {
        row: u64,
        id: RecipientId,
        address: EmailAddress,
        vars: BTreeMap<String, String>,
    },
    /// The address appeared on an earlier row; it is mailed once.
    Duplicate {
        row: u64,
    },
    Rejected(RejectedRow),
}

/// One row given as names and values (a preview's, a test send's), read by the same rules as a
/// list's: the address found by its name, variables matched to `wanted` as column names are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleRow {
    pub address: EmailAddress,
    pub vars: BTreeMap<String, String>,
    /// The `wanted` variables the row has no value for.
    pub missing: Vec<String>,
}

/// Reads one row; refuses it as a list's header would be refused (no address field, two names
/// that fold to one), or when its address is not valid.
pub fn read_single_row<'v>(
    row: &BTreeMap<String, String>,
    wanted: impl IntoIterator<Item = &'v str>,
) -> Result<SingleRow, ListError> {
    let mut columns = Columns::new(row.keys().map(|k| k.trim().to_string()).collect())?;
    let missing = columns.match_variables(wanted);
    let values: Vec<&String> = row.values().collect();
    let raw = values[columns.address];
    let address = EmailAddress::parse(raw).map_err(|e| ListError::InvalidAddress(format!("{raw:?}: {e}")))?;
    let vars = columns.variables().map(|(i, key)| (key.clone(), values[i].trim().to_string())).collect();
    Ok(SingleRow { address, vars, missing })
}

/// A recipient's id: derived from the normalised address, so the same address always gets the
/// same id (a re-run split or a duplicate row can never make a second recipient).
pub fn recipient_id(address: &EmailAddress) -> RecipientId {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d61_696c_6661_6e6d_6169_6c2d_7263_7074);
    let id = uuid::Uuid::new_v5(&NAMESPACE, address.as_str().as_bytes());
    RecipientId::parse(id.simple().to_string()).expect("32 hex characters are a valid id")
}

/// A line of a list before it is read as a recipient: its row number as the user sees it and
/// its fields, or why its text cannot be read.
struct RawRow {
    row: u64,
    fields: Result<Vec<String>, String>,
}

/// Where a list's rows come from. Blank rows are passed over.
trait Rows {
    fn next_row(&mut self) -> Option<Result<RawRow, ListError>>;
    /// The text encoding of a CSV list, or the workbook format.
    fn format(&self) -> &'static str;
}

/// Data rows read to find the address column by its values, when no header names it.
const SAMPLE_ROWS: usize = 20;

/// A recipient list being read.
pub struct RecipientList<'a> {
    rows: Box<dyn Rows + Send + 'a>,
    /// Rows read ahead (the sample), handed out before the rest.
    ahead: VecDeque<Result<RawRow, ListError>>,
    columns: Columns,
    seen: SeenIds,
}

impl std::fmt::Debug for RecipientList<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecipientList").field("headers", &self.columns.headers).field("format", &self.format()).finish()
    }
}

impl<'a> RecipientList<'a> {
    /// A CSV or TSV list: detects the encoding and the delimiter and reads the header row.
    pub fn open<R: Read + Send + 'a>(reader: R) -> Result<Self, ListError> {
        Self::open_choosing(reader, None)
    }

    /// As [`Self::open`], the address in the column named `email_column` (a header name or a
    /// 1-based number) if given.
    pub fn open_choosing<R: Read + Send + 'a>(reader: R, email_column: Option<&str>) -> Result<Self, ListError> {
        Self::from_rows(Box::new(CsvRows::open(reader)?), email_column)
    }

    /// An Excel workbook (`.xlsx`): reads the header row of its first sheet. A workbook is a
    /// zip archive, read from its end, so a stream is first copied to an unlinked temporary file.
    pub fn open_workbook(reader: impl Read) -> Result<Self, ListError> {
        Self::open_workbook_choosing(reader, None)
    }

    /// As [`Self::open_workbook`], with the address column named as for [`Self::open_choosing`].
    pub fn open_workbook_choosing(mut reader: impl Read, email_column: Option<&str>) -> Result<Self, ListError> {
        let mut file = seen::anonymous_file()?;
        io::copy(&mut reader, &mut file)?;
        file.seek(io::SeekFrom::Start(0))?;
        Self::from_rows(Box::new(SheetRows::open(file)), email_column)
    }

    fn from_rows(mut rows: Box<dyn Rows + Send + 'a>, email_column: Option<&str>) -> Result<Self, ListError> {
        let header = rows.next_row().ok_or(ListError::Empty)??;
        let fields = header.fields.map_err(|_| ListError::Malformed {
            line: header.row,
            message: format!("the header row is not valid {} text", rows.format()),
        })?;
        let headers: Vec<String> = fields.iter().map(|h| h.trim().to_string()).collect();
        let columns = match Columns::new(headers.clone()) {
            Ok(columns) if email_column.is_none() => columns,
            Err(ListError::NoAddressColumn(_)) | Ok(_) => {
                let mut ahead = VecDeque::new();
                if email_column.is_none() {
                    while ahead.len() < SAMPLE_ROWS {
                        match rows.next_row() {
                            Some(row) => ahead.push_back(row),
                            None => break,
                        }
                    }
                }
                let sample: Vec<Vec<String>> =
                    ahead.iter().filter_map(|r| r.as_ref().ok()).filter_map(|r| r.fields.clone().ok()).collect();
                let columns = Columns::choosing(headers, email_column, &sample)?;
                return Ok(Self { rows, ahead, columns, seen: SeenIds::new(DEFAULT_MEMORY_IDS) });
            }
            Err(e) => return Err(e),
        };
        Ok(Self { rows, ahead: VecDeque::new(), columns, seen: SeenIds::new(DEFAULT_MEMORY_IDS) })
    }

    /// Keeps at most `ids` addresses in memory for the duplicate check; the rest go to a
    /// temporary file (the answer stays exact). For tests and benchmarks of the spill.
    pub fn remembering_in_memory(mut self, ids: usize) -> Self {
        self.seen = SeenIds::new(ids);
        self
    }

    /// Addresses the duplicate check has moved to disk so far.
    pub fn addresses_on_disk(&self) -> usize {
        self.seen.spilled()
    }

    pub fn headers(&self) -> &[String] {
        &self.columns.headers
    }

    pub fn address_header(&self) -> &str {
        &self.columns.headers[self.columns.address]
    }

    /// The address column as the user knows it (its header, or its number when it has none),
    /// and how it was found.
    pub fn address_column(&self) -> (String, AddressFoundBy) {
        (self.columns.address_name(), self.columns.found_by)
    }

    /// The CSV list's text encoding, or `xlsx`.
    pub fn format(&self) -> &'static str {
        self.rows.format()
    }

    /// The names each row's variables go by: the columns other than the address.
    pub fn variables(&self) -> impl Iterator<Item = &String> {
        self.columns.variables().map(|(_, key)| key)
    }

    /// Makes each column whose name folds to one of `wanted` (see [`fold_column_name`]) go by
    /// that variable's own spelling; answers the variables no column satisfies.
    pub fn match_variables<'v>(&mut self, wanted: impl IntoIterator<Item = &'v str>) -> Vec<String> {
        self.columns.match_variables(wanted)
    }

    /// The next data row; `None` at the end. Blank rows are passed over.
    pub fn next_row(&mut self) -> Option<Result<ListRow, ListError>> {
        let next = match self.ahead.pop_front() {
            Some(row) => row,
            None => self.rows.next_row()?,
        };
        let RawRow { row, fields } = match next {
            Ok(raw) => raw,
            Err(e) => return Some(Err(e)),
        };
        let fields = match fields {
            Ok(fields) => fields,
            Err(reason) => return Some(Ok(ListRow::Rejected(RejectedRow { row, reason, value: None }))),
        };
        let address_column = self.columns.address;
        let raw = fields.get(address_column).map(String::as_str).unwrap_or_default();
        let address = match EmailAddress::parse(raw) {
            Ok(address) => address,
            Err(e) => {
                let reason = if raw.trim().is_empty() {
                    format!("the '{}' column is empty", self.columns.address_name())
                } else {
                    e.to_string()
                };
                let value = (!raw.trim().is_empty()).then(|| raw.chars().take(100).collect());
                return Some(Ok(ListRow::Rejected(RejectedRow { row, reason, value })));
            }
        };
        if let Some((header, c)) = self.columns.variables().find_map(|(i, key)| {
            let cell = fields.get(i).map_or("", String::as_str);
            cell.chars().find(|c| !sendable(*c)).map(|c| (key, c))
        }) {
            let reason = format!(
                "the '{header}' column holds the character U+{:04X}, which no mail can carry (it cannot be queued)",
                u32::from(c)
            );
            return Some(Ok(ListRow::Rejected(RejectedRow { row, reason, value: None })));
        }
        let id = recipient_id(&address);
        let key = u128::from_str_radix(id.as_str(), 16).expect("hex id");
        match self.seen.insert(key) {
            Ok(true) => {}
            Ok(false) => return Some(Ok(ListRow::Duplicate { row })),
            Err(e) => return Some(Err(ListError::Io(e))),
        }
        let vars = self
            .columns
            .variables()
            .map(|(i, key)| (key.clone(), fields.get(i).map_or("", |f| f.trim()).to_string()))
            .collect();
        Some(Ok(ListRow::Recipient { row, id, address, vars }))
    }
}

/// Whether a value's character can travel in a queue message. SQS takes only tab, line feed,
/// carriage return, U+0020 to U+D7FF, U+E000 to U+FFFD and U+10000 up, and refuses the whole
/// batch of a message that holds another; the JSON a recipient travels in escapes the other
/// control characters, which leaves the noncharacters U+FFFE and U+FFFF.
fn sendable(c: char) -> bool {
    !matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

#[cfg(test)]
mod spreadsheet_tests;
#[cfg(test)]
mod tests;
