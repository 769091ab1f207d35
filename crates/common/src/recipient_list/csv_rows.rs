//! The rows of a CSV (or TSV) list: encoding detected, delimiter sniffed, each row's fields
//! decoded on their own, numbered by the line they start on.

use std::io::{self, Chain, Cursor, Read};

use super::delimiter::sniff;
use super::text::{LineEndings, TextEncoding, Utf8Reader};
use super::{ListError, RawRow, Rows};

/// Bytes read ahead to detect the encoding and the delimiter.
const SAMPLE_BYTES: usize = 64 * 1024;

/// A zip archive's first bytes: an Excel workbook (.xlsx) sent as CSV.
const ZIP_MAGIC: &[u8] = b"PK\x03\x04";

type Text<R> = Chain<Cursor<Vec<u8>>, LineEndings<Utf8Reader<R>>>;

pub(super) struct CsvRows<R: Read> {
    csv: csv::Reader<Text<R>>,
    record: csv::ByteRecord,
    encoding: TextEncoding,
    /// The UTF-16 the file was in before it was turned into UTF-8, if it was.
    utf16: Option<&'static encoding_rs::Encoding>,
}

impl<R: Read> CsvRows<R> {
    pub fn open(mut reader: R) -> Result<Self, ListError> {
        let sample = read_up_to(&mut reader, SAMPLE_BYTES)?;
        if super::is_open_document(&sample) {
            return Err(ListError::OpenDocument);
        }
        if sample.starts_with(ZIP_MAGIC) {
            return Err(ListError::WorkbookAsCsv);
        }
        if sample.starts_with(super::OLE_MAGIC) {
            return Err(ListError::OldWorkbook);
        }
        // CSV's delimiters, quotes and line breaks never occur inside a CP949 character, so
        // rows are split as bytes and each row decoded on its own.
        let (encoding, bom, utf16) = TextEncoding::detect(&sample);
        let decoder = utf16.map(|e| e.new_decoder_without_bom_handling());
        let raw_end = sample.len();
        let mut raw = sample;
        raw.resize(raw_end.max(SAMPLE_BYTES), 0);
        let utf8 = Utf8Reader { inner: reader, decoder, raw, raw_start: bom, raw_end, eof: false };
        let mut text = LineEndings { inner: utf8, pending_cr: false, last_was_newline: true, done: false };
        let head = read_up_to(&mut text, SAMPLE_BYTES)?;
        let delimiter = sniff(&head)?;
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(Cursor::new(head).chain(text));
        Ok(Self { csv, record: csv::ByteRecord::new(), encoding, utf16 })
    }
}

impl<R: Read> Rows for CsvRows<R> {
    fn next_row(&mut self) -> Option<Result<RawRow, ListError>> {
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
            let fields = self
                .encoding
                .decode_row(&self.record)
                .ok_or_else(|| format!("the row is not valid {} text, the list's encoding", self.encoding.name()));
            return Some(Ok(RawRow { row, fields }));
        }
    }

    fn format(&self) -> &'static str {
        self.utf16.map_or(self.encoding.name(), |e| e.name())
    }
}

/// At most `limit` bytes, fewer only at the end of the text (a decoder needs a few bytes of
/// room, so the last few of `limit` may stay unread).
fn read_up_to(reader: &mut impl Read, limit: usize) -> io::Result<Vec<u8>> {
    let mut buffer = vec![0u8; limit];
    let mut filled = 0;
    while limit - filled >= 8 {
        let n = reader.read(&mut buffer[filled..])?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buffer.truncate(filled);
    Ok(buffer)
}

fn malformed(e: csv::Error) -> ListError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(io) => ListError::Io(io),
        other => ListError::Malformed { line, message: format!("{other:?}") },
    }
}
