//! Lists as spreadsheets export them: Excel's "CSV UTF-8" with a BOM and capitalised headers,
//! European semicolon CSV, TSV, and `.xlsx` workbooks made by a spreadsheet writer.

use rust_xlsxwriter::{ExcelDateTime, Format, Workbook};

use super::*;

fn all_rows(list: &mut RecipientList<'_>) -> Vec<ListRow> {
    std::iter::from_fn(|| list.next_row()).map(Result::unwrap).collect()
}

fn recipients(rows: &[ListRow]) -> Vec<(u64, String, BTreeMap<String, String>)> {
    rows.iter()
        .filter_map(|r| match r {
            ListRow::Recipient { row, address, vars, .. } => Some((*row, address.to_string(), vars.clone())),
            _ => None,
        })
        .collect()
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn an_excel_csv_utf8_export_with_capitalised_headers_fills_the_templates_variables() {
    let csv = "\u{feff}Email,Name,Tier\r\nkim@example.com,김민수,Gold\r\nlee@example.com,Lee,Silver\r\n";
    let mut list = RecipientList::open(csv.as_bytes()).unwrap();
    assert_eq!(list.match_variables(["name", "tier"]), Vec::<String>::new());
    let rows = all_rows(&mut list);
    assert_eq!(
        recipients(&rows),
        [
            (2, "kim@example.com".into(), vars(&[("name", "김민수"), ("tier", "Gold")])),
            (3, "lee@example.com".into(), vars(&[("name", "Lee"), ("tier", "Silver")])),
        ]
    );
}

#[test]
fn a_semicolon_csv_and_a_tsv_read_like_a_comma_csv() {
    for text in [
        "email;name;city\nkim@example.com;\"Kim; Min-su\";Seoul, Gangnam\n",
        "email\tname\tcity\nkim@example.com\t\"Kim; Min-su\"\tSeoul, Gangnam\n",
    ] {
        let mut list = RecipientList::open(text.as_bytes()).unwrap();
        assert_eq!(list.headers(), ["email", "name", "city"], "{text:?}");
        assert_eq!(
            recipients(&all_rows(&mut list)),
            [(2, "kim@example.com".into(), vars(&[("city", "Seoul, Gangnam"), ("name", "Kim; Min-su")]))]
        );
    }
}

#[test]
fn a_semicolon_list_in_cp949_is_sniffed_after_decoding() {
    let (bytes, _, _) = encoding_rs::EUC_KR.encode("이메일;이름\r\nkim@example.com;김민수\r\n");
    let mut list = RecipientList::open(&bytes[..]).unwrap();
    assert_eq!(list.address_header(), "이메일");
    assert_eq!(recipients(&all_rows(&mut list))[0].2["이름"], "김민수");
}

#[test]
fn header_collisions_and_undecidable_delimiters_are_refused_with_what_was_found() {
    let err = RecipientList::open(&b"email,Name,NAME\nk@x.kr,a,b\n"[..]).unwrap_err();
    assert!(err.to_string().contains("'Name' and 'NAME'"), "{err}");
    let err = RecipientList::open(&b"email;name,tier\n"[..]).unwrap_err();
    assert!(err.to_string().contains("comma, semicolon"), "{err}");
}

#[test]
fn a_workbook_or_an_old_excel_file_sent_as_csv_is_named_for_what_it_is() {
    let err = RecipientList::open(&workbook(&[&["email"], &["k@x.kr"]])[..]).unwrap_err();
    assert!(matches!(err, ListError::WorkbookAsCsv), "{err}");
    let err = RecipientList::open(&b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1\0\0\0\0"[..]).unwrap_err();
    assert!(matches!(err, ListError::OldWorkbook), "{err}");
}

/// A workbook whose first sheet holds `rows` as text, written by a spreadsheet writer (shared
/// strings, as Excel writes them).
fn workbook(rows: &[&[&str]]) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in rows.iter().enumerate() {
        for (c, value) in row.iter().enumerate() {
            if !value.is_empty() {
                sheet.write_string(r as u32, c as u16, *value).unwrap();
            }
        }
    }
    book.save_to_buffer().unwrap()
}

/// A customer sheet as people keep one, its header on Excel's row 3, optionally under a title.
fn customer_sheet(title: Option<&str>) -> Vec<u8> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    if let Some(title) = title {
        sheet.write_string(0, 0, title).unwrap();
    }
    for (c, header) in ["E-Mail", "Name", "Zip", "Points", "Joined", "Member"].iter().enumerate() {
        sheet.write_string(2, c as u16, *header).unwrap();
    }
    sheet.write_string(3, 0, "kim@example.com").unwrap();
    sheet.write_string(3, 1, "김민수").unwrap();
    sheet.write_string(3, 2, "01234").unwrap();
    sheet.write_number(3, 3, 1500).unwrap();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    sheet.write_datetime_with_format(3, 4, ExcelDateTime::from_ymd(2024, 3, 9).unwrap(), &date).unwrap();
    sheet.write_boolean(3, 5, true).unwrap();
    // Row 5 is blank; row 6 is not an address; row 7 repeats row 4's address.
    sheet.write_string(5, 0, "not-an-address").unwrap();
    sheet.write_string(6, 0, "KIM@example.com").unwrap();
    sheet.write_string(7, 0, "lee@example.com").unwrap();
    sheet.write_number(7, 3, 2.5).unwrap();
    book.add_worksheet().write_string(0, 0, "ignored@example.com").unwrap();
    book.save_to_buffer().unwrap()
}

#[test]
fn an_xlsx_reads_its_first_sheet_with_excels_row_numbers_and_cells_as_shown() {
    let bytes = customer_sheet(None);
    let mut list = RecipientList::open_workbook(&bytes[..]).unwrap();
    assert_eq!(list.format(), "xlsx");
    assert_eq!(list.address_header(), "E-Mail");
    assert_eq!(list.match_variables(["name", "zip", "points", "joined", "member"]), Vec::<String>::new());
    let rows = all_rows(&mut list);
    assert_eq!(
        recipients(&rows)[0],
        (
            4,
            "kim@example.com".into(),
            vars(&[
                ("joined", "2024-03-09"),
                ("member", "TRUE"),
                ("name", "김민수"),
                ("points", "1500"),
                ("zip", "01234"),
            ])
        ),
        "a text zip code keeps its leading zero; a whole number has no decimal point"
    );
    assert!(matches!(&rows[1], ListRow::Rejected(r) if r.row == 6 && r.value.as_deref() == Some("not-an-address")));
    assert_eq!(rows[2], ListRow::Duplicate { row: 7 });
    assert_eq!(recipients(&rows)[1].2["points"], "2.5");
    assert_eq!(rows.len(), 4, "only the first sheet is read");
}

#[test]
fn the_first_non_empty_row_of_the_sheet_is_its_header() {
    let err = RecipientList::open_workbook(&customer_sheet(Some("Customers, December"))[..]).unwrap_err();
    assert!(matches!(&err, ListError::NoAddressColumn(found) if found == &["Customers, December"]), "{err}");
}

#[test]
fn an_xlsx_whose_first_sheet_is_empty_says_so() {
    let mut book = Workbook::new();
    book.add_worksheet().set_name("Recipients").unwrap();
    book.add_worksheet().write_string(0, 0, "email").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let err = RecipientList::open_workbook(&bytes[..]).unwrap_err();
    assert!(matches!(&err, ListError::EmptySheet(name) if name == "Recipients"), "{err}");
    assert!(err.to_string().contains("first sheet, 'Recipients', is empty"));
}

#[test]
fn a_file_that_is_not_a_workbook_is_an_unreadable_workbook() {
    let err = RecipientList::open_workbook(&b"email\nkim@example.com\n"[..]).unwrap_err();
    assert!(matches!(err, ListError::Workbook(_)), "{err}");
}

#[test]
fn a_long_sheet_streams_row_by_row() {
    let mut rows: Vec<Vec<String>> = vec![vec!["email".into(), "name".into()]];
    for i in 0..5_000 {
        rows.push(vec![format!("user{i}@example.com"), format!("User {i}")]);
    }
    let borrowed: Vec<Vec<&str>> = rows.iter().map(|r| r.iter().map(String::as_str).collect()).collect();
    let slices: Vec<&[&str]> = borrowed.iter().map(Vec::as_slice).collect();
    let bytes = workbook(&slices);
    let mut list = RecipientList::open_workbook(&bytes[..]).unwrap();
    let read = recipients(&all_rows(&mut list));
    assert_eq!(read.len(), 5_000);
    assert_eq!(read[4_999], (5_001, "user4999@example.com".into(), vars(&[("name", "User 4999")])));
}

/// An OpenDocument spreadsheet's first bytes (its `mimetype` entry, stored first).
fn open_document() -> Vec<u8> {
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend_from_slice(&[0u8; 26]);
    bytes.extend_from_slice(super::ODS_MIMETYPE);
    bytes.extend_from_slice(&[0u8; 200]);
    bytes
}

/// An .ods is refused by name with what to do, uploaded as a workbook or as CSV; so is an .xls
/// uploaded as a workbook (not "File not found 'xl/_rels/workbook.xml.rels'").
#[test]
fn other_spreadsheet_files_are_refused_by_name() {
    for result in [RecipientList::open_workbook(&open_document()[..]), RecipientList::open(&open_document()[..])] {
        let error = result.map(|_| ()).unwrap_err();
        assert!(matches!(error, ListError::OpenDocument), "{error}");
        assert!(error.to_string().contains("save it as .xlsx or as CSV UTF-8"), "{error}");
    }
    let mut xls = super::OLE_MAGIC.to_vec();
    xls.extend_from_slice(&[0u8; 512]);
    let error = RecipientList::open_workbook(&xls[..]).map(|_| ()).unwrap_err();
    assert!(matches!(error, ListError::OldWorkbook), "{error}");
}
