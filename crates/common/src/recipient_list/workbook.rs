//! The rows of an Excel workbook's (`.xlsx`) first sheet, streamed: a thread of its own walks
//! the sheet's cells and hands over one row at a time, each cell as the sheet shows it.

use std::io::{BufReader, Read, Seek};
use std::sync::mpsc::{sync_channel, Receiver};

use calamine::{DataRef, ExcelDateTime, Reader, Xlsx};

use super::{ListError, RawRow, Rows};

/// Rows read ahead of the consumer.
const READ_AHEAD: usize = 256;
/// Excel's columns (A to XFD).
const MAX_COLUMNS: usize = 16_384;

pub(super) struct SheetRows {
    rows: Receiver<Result<RawRow, ListError>>,
}

impl SheetRows {
    /// Starts reading the first sheet of the workbook in `file`.
    pub fn open<F: Read + Seek + Send + 'static>(file: F) -> Self {
        let (sender, rows) = sync_channel(READ_AHEAD);
        std::thread::spawn(move || {
            // A panic in the reader must not pass for the end of the list.
            let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                read_first_sheet(file, |row| sender.send(Ok(row)).is_ok())
            }));
            let failed = match read {
                Ok(result) => result.err(),
                Err(_) => Some(ListError::Workbook("its first sheet could not be read to the end".into())),
            };
            if let Some(e) = failed {
                let _ = sender.send(Err(e));
            }
        });
        Self { rows }
    }
}

impl Rows for SheetRows {
    fn next_row(&mut self) -> Option<Result<RawRow, ListError>> {
        self.rows.recv().ok()
    }

    fn format(&self) -> &'static str {
        "xlsx"
    }
}

/// Hands each non-empty row of the first sheet to `take` until it answers `false`.
fn read_first_sheet<F: Read + Seek>(mut file: F, mut take: impl FnMut(RawRow) -> bool) -> Result<(), ListError> {
    let mut head = [0u8; 128];
    let read = file.read(&mut head)?;
    file.seek(std::io::SeekFrom::Start(0))?;
    if super::is_open_document(&head[..read]) {
        return Err(ListError::OpenDocument);
    }
    if head[..read].starts_with(super::OLE_MAGIC) {
        return Err(ListError::OldWorkbook);
    }
    let unreadable = |e: calamine::XlsxError| ListError::Workbook(e.to_string());
    let mut workbook: Xlsx<_> = Xlsx::new(BufReader::new(file)).map_err(unreadable)?;
    let sheet =
        workbook.sheet_names().into_iter().next().ok_or_else(|| ListError::Workbook("it has no sheet".into()))?;
    let mut cells = workbook.worksheet_cells_reader(&sheet).map_err(unreadable)?;
    let (mut current, mut fields, mut any) = (None::<u32>, Vec::<String>::new(), false);
    let mut flush = |row: u32, fields: &mut Vec<String>| {
        let fields = std::mem::take(fields);
        if fields.iter().all(|f| f.trim().is_empty()) {
            return true;
        }
        any = true;
        // Rows are numbered as Excel shows them, from 1.
        take(RawRow { row: u64::from(row) + 1, fields: Ok(fields) })
    };
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (row, column) = cell.get_position();
        if current.is_some_and(|r| r != row) && !flush(current.unwrap_or_default(), &mut fields) {
            return Ok(());
        }
        current = Some(row);
        let column = column as usize;
        // A crafted sheet may name any column: rows are held as wide as their last cell.
        if column >= MAX_COLUMNS {
            return Err(ListError::Workbook(format!(
                "a cell lies in column {}, beyond Excel's last ({MAX_COLUMNS})",
                column + 1
            )));
        }
        if fields.len() <= column {
            fields.resize(column + 1, String::new());
        }
        fields[column] = shown(cell.get_value());
    }
    if let Some(row) = current {
        if !flush(row, &mut fields) {
            return Ok(());
        }
    }
    if !any {
        return Err(ListError::EmptySheet(sheet));
    }
    Ok(())
}

/// A cell's value as the sheet shows it with its default formats: whole numbers without a
/// decimal point, dates as `YYYY-MM-DD` (with the time when there is one), text as typed, so a
/// zip code or phone number stored as text keeps its leading zeros.
fn shown(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Int(n) => n.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => (*s).to_string(),
        DataRef::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        DataRef::DateTime(date) => shown_date(date),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => e.to_string(),
        DataRef::Empty => String::new(),
    }
}

fn shown_date(date: &ExcelDateTime) -> String {
    if date.is_duration() {
        let seconds = (date.as_f64() * 86_400.0).round() as i64;
        return format!("{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60);
    }
    let (year, month, day, hour, minute, second, _) = date.to_ymd_hms_milli();
    match (hour, minute, second) {
        (0, 0, 0) => format!("{year:04}-{month:02}-{day:02}"),
        (_, _, 0) => format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}"),
        _ => format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"),
    }
}
