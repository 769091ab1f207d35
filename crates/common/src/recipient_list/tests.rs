//! Reading CSV lists: encodings, line endings, rows and their numbers, duplicates.

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
    assert_eq!(list.format(), "EUC-KR");
    assert_eq!(list.address_header(), "이메일");
    let Some(Ok(ListRow::Recipient { vars, address, .. })) = list.next_row() else { panic!() };
    assert_eq!((vars["이름"].as_str(), address.as_str()), ("김민수", "minsu@example.com"));
}

/// Western-European Excel's "CSV (comma delimited)": Windows-1252, one byte per accented
/// letter, some of which CP949 would also take (Ä and an ASCII letter make a CP949 syllable).
#[test]
fn windows_1252_as_western_european_excel_writes_it() {
    let text = "Email,Name\r\nmueller@example.com,Müller\r\nzoe@example.com,Zoé\r\nnunez@example.com,Núñez\r\nae@example.com,Ärger Æsir\r\n";
    let (bytes, _, lossy) = encoding_rs::WINDOWS_1252.encode(text);
    assert!(!lossy);
    assert!(std::str::from_utf8(&bytes).is_err(), "the sample really is not UTF-8");
    let mut list = RecipientList::open(&bytes[..]).unwrap();
    assert_eq!(list.format(), "windows-1252");
    let mut names = Vec::new();
    while let Some(row) = list.next_row() {
        let ListRow::Recipient { vars, .. } = row.unwrap() else { panic!("every row is a recipient") };
        names.push(vars["Name"].clone());
    }
    assert_eq!(names, ["Müller", "Zoé", "Núñez", "Ärger Æsir"]);
}

/// The first 64 KiB are ASCII, so the first row that is not decides, on its own bytes.
#[test]
fn a_list_ascii_at_first_decides_between_cp949_and_windows_1252_on_its_first_other_row() {
    let mut head = String::from("email,name\n");
    for i in 0..3000 {
        head.push_str(&format!("user{i}@example.com,User {i}\n"));
    }
    for (tail, encoding, name) in [
        ("late@example.com,Zoé Müller\n", encoding_rs::WINDOWS_1252, "Zoé Müller"),
        ("late@example.com,김민수\n", EUC_KR, "김민수"),
    ] {
        let mut bytes = head.clone().into_bytes();
        bytes.extend_from_slice(&encoding.encode(tail).0);
        let (_, rows) = read_all(&bytes);
        let Some(ListRow::Recipient { vars, .. }) = rows.last() else { panic!("{:?}", rows.last()) };
        assert_eq!(vars["name"], name);
    }
}

#[test]
fn utf16_with_bom_is_read() {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in "email,name\nkim@example.com,김\n".encode_utf16() {
        bytes.extend(unit.to_le_bytes());
    }
    let (_, rows) = read_all(&bytes);
    assert_eq!(addresses(&rows), [(2, "kim@example.com".into())]);
    assert_eq!(RecipientList::open(&bytes[..]).unwrap().format(), "UTF-16LE", "named as it was uploaded");
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

mod encoding {
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

/// A cell SQS cannot carry makes its row a rejected row with the reason; the rest are read.
#[test]
fn a_cell_no_queue_message_can_carry_rejects_its_row() {
    let csv = "email,name\na@example.com,A\u{FFFE}\nb@example.com,B\u{FFFF}x\nc@example.com,C\u{FFFD}\u{1F600}\ta\n";
    let (_, rows) = read_all(csv.as_bytes());
    assert_eq!(addresses(&rows), [(4, "c@example.com".into())], "U+FFFD, emoji and tab travel");
    let reasons: Vec<String> = rows
        .iter()
        .filter_map(|r| match r {
            ListRow::Rejected(rejected) => Some(format!("{}: {}", rejected.row, rejected.reason)),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].starts_with("2: the 'name' column holds the character U+FFFE"), "{reasons:?}");
    assert!(reasons[1].starts_with("3: the 'name' column holds the character U+FFFF"), "{reasons:?}");
}

/// A list without a header row: refused with what to do, and without the first row's address
/// (the message goes into logs and the campaign's stored reason).
#[test]
fn a_list_without_a_header_row_is_refused_without_naming_its_first_address() {
    let err = RecipientList::open(&b"kim@example.com,Kim\nlee@example.com,Lee\n"[..]).map(|_| ()).unwrap_err();
    assert!(matches!(err, ListError::NoHeaderRow), "{err}");
    assert!(!err.to_string().contains("kim@"), "{err}");
    for first_row in ["kim@example.com,kim@example.com\n", "Kim <kim@example.com>,Kim\n", "kim@example,Kim\n"] {
        let err = RecipientList::open(first_row.as_bytes()).map(|_| ()).unwrap_err();
        assert!(matches!(err, ListError::NoHeaderRow), "{first_row}: {err}");
    }
}

/// The address column a list was read by, and the recipients read.
type ReadBy = ((String, AddressFoundBy), Vec<(u64, String)>);

fn address_column_of(csv: &str, chosen: Option<&str>) -> Result<ReadBy, ListError> {
    let mut list = RecipientList::open_choosing(csv.as_bytes(), chosen)?;
    let column = list.address_column();
    let mut rows = Vec::new();
    while let Some(row) = list.next_row() {
        rows.push(row.unwrap());
    }
    Ok((column, addresses(&rows)))
}

/// Address-book exports name the address column by a label ("E-mail 1 - Value", Google
/// Contacts) or not at all: the column whose values are addresses is taken, and the rows read
/// to find it are recipients like the rest.
#[test]
fn without_a_usual_header_the_address_column_is_found_by_its_values() {
    let csv = "Name,E-mail 1 - Value,Phone\nKim,kim@example.com,010\nLee,,011\nPark,park@example.com,012\n";
    let (column, rows) = address_column_of(csv, None).unwrap();
    assert_eq!(column, ("E-mail 1 - Value".to_string(), AddressFoundBy::Content));
    assert_eq!(rows, [(2, "kim@example.com".to_string()), (4, "park@example.com".to_string())]);
    let unnamed = "Name,,Phone\nKim,kim@example.com,010\n";
    assert_eq!(address_column_of(unnamed, None).unwrap().0, ("column 2".to_string(), AddressFoundBy::Content));
    // A column where addresses are the exception is not the address column.
    let notes = "Name,Notes\nKim,write to kim@example.com\nLee,call\nPark,call\nChoi,call\nJung,call\n";
    assert!(matches!(address_column_of(notes, None), Err(ListError::NoAddressColumn(_))));
}

#[test]
fn the_user_names_the_address_column_by_header_or_number() {
    let csv = "Work Email,Personal,Name\nkim@work.example,kim@home.example,Kim\n";
    let (column, rows) = address_column_of(csv, Some("personal")).unwrap();
    assert_eq!(column, ("Personal".to_string(), AddressFoundBy::Chosen));
    assert_eq!(rows, [(2, "kim@home.example".to_string())], "the chosen column wins over a usual header");
    assert_eq!(address_column_of(csv, Some("2")).unwrap().0 .0, "Personal");
    assert_eq!(address_column_of(csv, None).unwrap().0, ("Work Email".to_string(), AddressFoundBy::Content));
    let err = address_column_of(csv, Some("Mobile")).unwrap_err();
    assert!(matches!(&err, ListError::NoChosenColumn { chosen, .. } if chosen == "Mobile"), "{err}");
    assert!(err.to_string().contains("Personal"), "names the columns it has: {err}");
}
