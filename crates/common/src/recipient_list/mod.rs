//! Reading a recipient list (CSV) as a stream of rows: the encoding is detected (UTF-8 with or
//! without BOM, UTF-16 with BOM, otherwise CP949/EUC-KR as Korean Excel writes it), the header
//! row names the variables, the address column is found by name, and every row comes out as a
//! recipient, a duplicate, or a rejected row with its reason. Nothing is held but the current
//! row and the set of addresses seen, whose memory stays flat beyond a fixed size ([`seen`]).

mod seen;
mod text;

use std::collections::BTreeMap;
use std::io::{self, Read};

use crate::domain::{EmailAddress, RecipientId, RejectedRow};

use seen::SeenIds;
pub use seen::DEFAULT_MEMORY_IDS;
pub use text::TextEncoding;
use text::{LineEndings, Utf8Reader};

/// Header names (compared without case, spaces, `-`, `_` or `.`) that hold the address.
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

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("the list is empty: it has no header row")]
    Empty,
    #[error("no column holds the e-mail address: expected a header such as 'email' or '이메일', found {0:?}")]
    NoAddressColumn(Vec<String>),
    #[error("the list is not valid CSV near line {line}: {message}")]
    Malformed { line: u64, message: String },
    #[error("reading the list failed: {0}")]
    Io(#[from] io::Error),
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

/// A recipient's id: derived from the normalised address, so the same address always gets the
/// same id (a re-run split or a duplicate row can never make a second recipient).
pub fn recipient_id(address: &EmailAddress) -> RecipientId {
    const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6d61_696c_6661_6e6d_6169_6c2d_7263_7074);
    let id = uuid::Uuid::new_v5(&NAMESPACE, address.as_str().as_bytes());
    RecipientId::parse(id.simple().to_string()).expect("32 hex characters are a valid id")
}

fn normalise_header(header: &str) -> String {
    header.trim().chars().filter(|c| !matches!(c, ' ' | '-' | '_' | '.')).flat_map(char::to_lowercase).collect()
}

/// A recipient list being read.
pub struct RecipientList<R: Read> {
    csv: csv::Reader<LineEndings<Utf8Reader<R>>>,
    headers: Vec<String>,
    address_column: usize,
    seen: SeenIds,
    record: csv::ByteRecord,
    encoding: TextEncoding,
}

impl<R: Read> std::fmt::Debug for RecipientList<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecipientList").field("headers", &self.headers).field("encoding", &self.encoding).finish()
    }
}

impl<R: Read> RecipientList<R> {
    /// Detects the encoding and reads the header row.
    pub fn open(mut reader: R) -> Result<Self, ListError> {
        let mut sample = vec![0u8; 64 * 1024];
        let mut filled = 0;
        while filled < sample.len() {
            let n = reader.read(&mut sample[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        sample.truncate(filled);
        // CSV's commas, quotes and line breaks never occur inside a CP949 character, so rows
        // are split as bytes and each row decoded on its own.
        let (mut encoding, bom, utf16) = TextEncoding::detect(&sample);
        let decoder = utf16.map(|e| e.new_decoder_without_bom_handling());
        let raw_end = sample.len();
        let mut raw = sample;
        raw.resize(raw_end.max(64 * 1024), 0);
        let utf8 = Utf8Reader { inner: reader, decoder, raw, raw_start: bom, raw_end, eof: false };
        let text = LineEndings { inner: utf8, pending_cr: false, last_was_newline: true, done: false };
        let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text);
        let mut record = csv::ByteRecord::new();
        let headers = loop {
            match csv.read_byte_record(&mut record) {
                Ok(false) => return Err(ListError::Empty),
                Ok(true) if record.iter().all(|f| f.trim_ascii().is_empty()) => continue,
                Ok(true) => {
                    let line = csv.position().line();
                    let fields = encoding.decode_row(&record).ok_or_else(|| ListError::Malformed {
                        line,
                        message: format!("the header row is not valid {} text", encoding.name()),
                    })?;
                    break fields.iter().map(|h| h.trim().to_string()).collect::<Vec<_>>();
                }
                Err(e) => return Err(malformed(e)),
            }
        };
        let address_column = headers
            .iter()
            .position(|h| ADDRESS_HEADERS.contains(&normalise_header(h).as_str()))
            .ok_or_else(|| ListError::NoAddressColumn(headers.clone()))?;
        Ok(Self { csv, headers, address_column, seen: SeenIds::new(DEFAULT_MEMORY_IDS), record, encoding })
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
        &self.headers
    }

    pub fn address_header(&self) -> &str {
        &self.headers[self.address_column]
    }

    pub fn encoding(&self) -> &'static str {
        self.encoding.name()
    }

    /// Header names other than the address column: the variables each row provides.
    pub fn variables(&self) -> impl Iterator<Item = &String> {
        self.headers.iter().enumerate().filter(move |(i, h)| *i != self.address_column && !h.is_empty()).map(|(_, h)| h)
    }

    /// The next data row; `None` at the end. Blank rows are passed over.
    pub fn next_row(&mut self) -> Option<Result<ListRow, ListError>> {
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Ok(false) => return None,
                Err(e) => return Some(Err(malformed(e))),
                Ok(true) => {}
            }
            if self.record.iter().all(|f| f.trim_ascii().is_empty()) {
                continue;
            }
            // The reader now stands at the start of the next line; the record began as many
            // lines earlier as it holds newlines.
            let inner_newlines: usize = self.record.iter().map(|f| f.iter().filter(|b| **b == b'\n').count()).sum();
            let row = self.csv.position().line().saturating_sub(1 + inner_newlines as u64);
            let Some(fields) = self.encoding.decode_row(&self.record) else {
                let reason = format!("the row is not valid {} text, the list's encoding", self.encoding.name());
                return Some(Ok(ListRow::Rejected(RejectedRow { row, reason, value: None })));
            };
            let raw = fields.get(self.address_column).map(String::as_str).unwrap_or_default();
            let address = match EmailAddress::parse(raw) {
                Ok(address) => address,
                Err(e) => {
                    let reason = if raw.trim().is_empty() {
                        format!("the '{}' column is empty", self.headers[self.address_column])
                    } else {
                        e.to_string()
                    };
                    let value = (!raw.trim().is_empty()).then(|| raw.chars().take(100).collect());
                    return Some(Ok(ListRow::Rejected(RejectedRow { row, reason, value })));
                }
            };
            let id = recipient_id(&address);
            let key = u128::from_str_radix(id.as_str(), 16).expect("hex id");
            match self.seen.insert(key) {
                Ok(true) => {}
                Ok(false) => return Some(Ok(ListRow::Duplicate { row })),
                Err(e) => return Some(Err(ListError::Io(e))),
            }
            let vars = self
                .headers
                .iter()
                .enumerate()
                .filter(|(i, h)| *i != self.address_column && !h.is_empty())
                .map(|(i, h)| (h.clone(), fields.get(i).map_or("", |f| f.trim()).to_string()))
                .collect();
            return Some(Ok(ListRow::Recipient { row, id, address, vars }));
        }
    }
}

fn malformed(e: csv::Error) -> ListError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ListError::Io(io),
        other => ListError::Malformed { line, message: format!("{other:?}") },
    }
}

#[cfg(test)]
mod tests {
    use encoding_rs::EUC_KR;

    use super::*;

    fn read_all(bytes: &[u8]) -> (Vec<String>, Vec<ListRow>) {
        let mut list = RecipientList::open(bytes).unwrap();
        let headers = list.headers().to_vec();
        let mut rows = Vec::new();
        while let Some(row) = list.next_row() {
            rows.push(row.unwrap());
        }
        (headers, rows)
    }

    fn addresses(rows: &[ListRow]) -> Vec<(u64, String)> {
        rows.iter()
            .filter_map(|r| match r {
                ListRow::Recipient { row, address, .. } => Some((*row, address.to_string())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn utf8_with_bom_crlf_quotes_blank_lines_and_ragged_rows() {
        let csv = "\u{feff}Name,E-Mail,City\r\n\"Kim, Min-su\",KIM@example.com,\"Seoul\r\nGangnam\"\r\n\r\nLee,lee@example.com\r\n,,\r\nPark,park@example.com,Busan,extra\r\n";
        let (headers, rows) = read_all(csv.as_bytes());
        assert_eq!(headers, ["Name", "E-Mail", "City"]);
        assert_eq!(
            addresses(&rows),
            [(2, "kim@example.com".into()), (5, "lee@example.com".into()), (7, "park@example.com".into())]
        );
        let ListRow::Recipient { vars, .. } = &rows[0] else { panic!() };
        assert_eq!(vars["Name"], "Kim, Min-su");
        assert_eq!(vars["City"], "Seoul\nGangnam");
        let ListRow::Recipient { vars, .. } = &rows[1] else { panic!() };
        assert_eq!(vars["City"], "", "a missing column reads as empty");
    }

    #[test]
    fn rows_are_numbered_by_their_first_line_whatever_the_line_endings() {
        for csv in [
            "email\na@example.com\n\nb@example.com\n\"c@example.com\"\nd@example.com",
            "email\r\na@example.com\r\n\r\nb@example.com\r\n\"c@example.com\"\r\nd@example.com",
        ] {
            let (_, rows) = read_all(csv.as_bytes());
            let rows: Vec<u64> = addresses(&rows).into_iter().map(|(row, _)| row).collect();
            assert_eq!(rows, [2, 4, 5, 6], "{csv:?}");
        }
        let (_, rows) = read_all(b"name,email\n\"two\nlines\",a@example.com\nx,b@example.com\n");
        assert_eq!(addresses(&rows), [(2, "a@example.com".into()), (4, "b@example.com".into())]);
    }

    #[test]
    fn cp949_as_korean_excel_writes_it() {
        let text = "이름,이메일\r\n김민수,minsu@example.com\r\n이영희,younghee@example.com\r\n";
        let (bytes, _, lossy) = EUC_KR.encode(text);
        assert!(!lossy);
        assert!(std::str::from_utf8(&bytes).is_err(), "the sample really is not UTF-8");
        let mut list = RecipientList::open(&bytes[..]).unwrap();
        assert_eq!(list.encoding(), "EUC-KR");
        assert_eq!(list.address_header(), "이메일");
        let Some(Ok(ListRow::Recipient { vars, address, .. })) = list.next_row() else { panic!() };
        assert_eq!((vars["이름"].as_str(), address.as_str()), ("김민수", "minsu@example.com"));
    }

    #[test]
    fn utf16_with_bom_is_read() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "email,name\nkim@example.com,김\n".encode_utf16() {
            bytes.extend(unit.to_le_bytes());
        }
        let (_, rows) = read_all(&bytes);
        assert_eq!(addresses(&rows), [(2, "kim@example.com".into())]);
    }

    #[test]
    fn invalid_and_duplicate_rows_are_reported_by_row() {
        let csv = "email,name\nkim@example.com,Kim\nnot-an-address,X\n,Empty\n Kim@Example.com ,Again\n";
        let (_, rows) = read_all(csv.as_bytes());
        assert!(
            matches!(&rows[1], ListRow::Rejected(r) if r.row == 3 && r.reason.contains("no '@'") && r.value.as_deref() == Some("not-an-address"))
        );
        assert!(matches!(&rows[2], ListRow::Rejected(r) if r.row == 4 && r.reason.contains("'email' column is empty")));
        assert_eq!(rows[3], ListRow::Duplicate { row: 5 });
    }

    #[test]
    fn a_list_without_an_address_column_or_header_is_refused() {
        let err = RecipientList::open(&b"name,phone\nKim,010\n"[..]).unwrap_err();
        assert!(matches!(&err, ListError::NoAddressColumn(h) if h == &["name", "phone"]), "{err}");
        assert!(matches!(RecipientList::open(&b"\n\n"[..]), Err(ListError::Empty)));
    }

    #[test]
    fn recipient_ids_are_stable_per_address() {
        let a = EmailAddress::parse("kim@example.com").unwrap();
        assert_eq!(recipient_id(&a), recipient_id(&EmailAddress::parse(" KIM@example.com").unwrap()));
        assert_ne!(recipient_id(&a), recipient_id(&EmailAddress::parse("lee@example.com").unwrap()));
        assert_eq!(recipient_id(&a).as_str().len(), 32);
    }

    #[test]
    fn a_repeat_far_down_a_list_is_a_duplicate_after_the_seen_addresses_went_to_disk() {
        let mut text = String::from("email\n");
        for i in 0..5_000 {
            text.push_str(&format!("user{i}@example.com\n"));
        }
        text.push_str("USER7@example.com\nuser4999@example.com\nnew@example.com\n");
        let mut list = RecipientList::open(text.as_bytes()).unwrap().remembering_in_memory(500);
        let rows: Vec<ListRow> = std::iter::from_fn(|| list.next_row()).map(Result::unwrap).collect();
        assert_eq!(list.addresses_on_disk(), 5_000);
        assert_eq!(rows.iter().filter(|r| matches!(r, ListRow::Recipient { .. })).count(), 5_001);
        assert_eq!(rows[5_000], ListRow::Duplicate { row: 5_002 });
        assert_eq!(rows[5_001], ListRow::Duplicate { row: 5_003 });
        assert!(matches!(&rows[5_002], ListRow::Recipient { address, .. } if address.as_str() == "new@example.com"));
    }

    #[test]
    fn a_long_list_streams_through_small_reads() {
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = self.0.len().min(out.len()).min(7);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut text = String::from("이메일,이름\n");
        for i in 0..20_000 {
            text.push_str(&format!("user{i}@example.com,사용자{i}\n"));
        }
        let (bytes, _, _) = EUC_KR.encode(&text);
        let mut list = RecipientList::open(Trickle(&bytes)).unwrap();
        let mut count = 0;
        while let Some(row) = list.next_row() {
            let ListRow::Recipient { vars, row, .. } = row.unwrap() else { panic!() };
            assert_eq!(vars["이름"], format!("사용자{}", row - 2));
            count += 1;
        }
        assert_eq!(count, 20_000);
    }
}

#[cfg(test)]
mod encoding_tests {
    use encoding_rs::EUC_KR;

    use super::*;

    fn rows(bytes: &[u8]) -> Vec<ListRow> {
        let mut list = RecipientList::open(bytes).unwrap();
        std::iter::from_fn(|| list.next_row()).map(Result::unwrap).collect()
    }

    /// 2,000 ASCII rows (well over the 64 KiB the encoding is first guessed from).
    fn ascii_rows() -> String {
        let mut text = String::from("email,name\n");
        for i in 0..2000 {
            text.push_str(&format!("user{i:05}@example.com,Customer number {i:05} of the list\n"));
        }
        assert!(text.len() > 64 * 1024);
        text
    }

    #[test]
    fn a_cp949_list_whose_first_64_kib_is_ascii_reads_to_the_end_in_cp949() {
        let mut text = ascii_rows();
        text.push_str("kim@example.com,김민수\nlee@example.com,이영희\n");
        let (bytes, _, lossy) = EUC_KR.encode(&text);
        assert!(!lossy);
        let rows = rows(&bytes);
        assert_eq!(rows.len(), 2002, "every row, none rejected");
        let names: Vec<_> = rows[2000..]
            .iter()
            .map(|r| match r {
                ListRow::Recipient { vars, .. } => vars["name"].clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(names, ["김민수", "이영희"]);
    }

    #[test]
    fn a_row_not_in_the_lists_encoding_is_rejected_and_the_rest_read() {
        // A UTF-8 list (its first rows say so) with one row, far down, pasted from a CP949 file.
        let mut bytes = ascii_rows().replacen("email,name\n", "email,name\nkim@example.com,김민수\n", 1).into_bytes();
        bytes.extend_from_slice(&EUC_KR.encode("lee@example.com,이영희\n").0);
        bytes.extend_from_slice("park@example.com,박지훈\n".as_bytes());
        let rows = rows(&bytes);
        assert_eq!(rows.len(), 2003);
        let bad = &rows[2001];
        assert!(
            matches!(bad, ListRow::Rejected(r) if r.row == 2003 && r.reason.contains("not valid UTF-8")),
            "{bad:?}"
        );
        assert!(matches!(&rows[2002], ListRow::Recipient { vars, .. } if vars["name"] == "박지훈"));
    }
}
