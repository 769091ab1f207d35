//! Lists as spreadsheets export them, end to end on the local stack: an Excel "CSV UTF-8"
//! export with a BOM and capitalised headers, a European semicolon CSV, a TSV and an `.xlsx`
//! workbook, each uploaded with its own content type, and two address-book exports (the address
//! column labelled, or named by the campaign), sent with a template that writes the variables in
//! lower case; every valid row gets one mail with its name rendered.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::json;

use crate::campaign_e2e::{create, mails_to, start};
use crate::support::unique_name;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Rows of every list: (address, name), one of them not an address.
fn rows(domain: &str, list: &str) -> Vec<(String, String)> {
    let mut rows: Vec<(String, String)> =
        (0..4).map(|i| (format!("{list}{i}@{domain}"), format!("Kim {list} {i}"))).collect();
    rows.insert(2, ("not-an-address".into(), "Nobody".into()));
    rows
}

fn text_list(header: &str, delimiter: &str, rows: &[(String, String)]) -> Vec<u8> {
    let mut text = format!("\u{feff}{header}\r\n");
    for (address, name) in rows {
        text.push_str(&format!("{address}{delimiter}{name}{delimiter}Gold\r\n"));
    }
    text.into_bytes()
}

fn workbook(rows: &[(String, String)]) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (c, header) in ["E-mail", "NAME", "Tier"].iter().enumerate() {
        sheet.write_string(0, c as u16, *header).unwrap();
    }
    for (r, (address, name)) in rows.iter().enumerate() {
        sheet.write_string(r as u32 + 1, 0, address).unwrap();
        sheet.write_string(r as u32 + 1, 1, name).unwrap();
        sheet.write_string(r as u32 + 1, 2, "Gold").unwrap();
    }
    book.save_to_buffer().unwrap()
}

#[tokio::test]
async fn excel_csv_semicolon_csv_tsv_and_xlsx_lists_send_to_every_valid_row_with_names_rendered() {
    let (runner, api) = start().await;
    let domain = format!("{}.example.com", unique_name());
    create(
        &api,
        "/templates",
        json!({"id": "tiers", "name": "Tiers", "subject": "{{name}}, your {{tier}} offer", "html": "<p>{{name}}</p>"}),
    )
    .await;
    // The last two as address books export them: the address column labelled (found by its
    // values), and one the campaign names (`emailColumn`).
    let lists = [
        ("excel", "Email,Name,Tier", ",", "text/csv", None),
        ("semi", "email;name;tier", ";", "text/csv", None),
        ("tabs", "email\tname\ttier", "\t", "text/tab-separated-values", None),
        ("book", "", "", XLSX, None),
        ("label", "E-mail 1 - Value,Name,Tier", ",", "text/csv", None),
        ("named", "Contact,Name,Tier", ",", "text/csv", Some("1")),
    ];
    let mut campaigns = Vec::new();
    for (list, header, delimiter, content_type, email_column) in lists {
        let rows = rows(&domain, list);
        let bytes = if content_type == XLSX { workbook(&rows) } else { text_list(header, delimiter, &rows) };
        let key = api.upload_list_as(&bytes, content_type).await.unwrap();
        let extension = if content_type == XLSX {
            ".xlsx"
        } else if delimiter == "\t" {
            ".tsv"
        } else {
            ".csv"
        };
        assert!(key.ends_with(extension), "{key}");
        let from = json!({"address": "news@example.com"});
        let mut input = json!({"templateId": "tiers", "listKey": key, "from": from});
        if let Some(column) = email_column {
            input["emailColumn"] = json!(column);
        }
        let campaign = create(&api, "/campaigns", input).await;
        campaigns.push((list, campaign["id"].as_str().unwrap().to_string(), rows));
    }
    for (list, id, _) in &campaigns {
        let done = api.wait_for_campaign(id, Duration::from_secs(120)).await.unwrap();
        assert_eq!(done["status"], "completed", "{list}: {done}");
        assert_eq!((done["counters"]["sent"].as_u64(), done["rejectedRows"].as_u64()), (Some(4), Some(1)), "{list}");
        let rejected = api.all_pages(&format!("/campaigns/{id}/rejected-rows")).await.unwrap();
        assert_eq!(rejected[0]["row"], 4, "{list}: the row number the file shows");
    }
    let mails = mails_to(&domain).await;
    let subjects: BTreeMap<&str, &str> = mails
        .iter()
        .map(|(to, mails)| {
            assert_eq!(mails.len(), 1, "{to} got {} mails", mails.len());
            (to.as_str(), mails[0]["subject"].as_str().unwrap())
        })
        .collect();
    for (_, _, rows) in &campaigns {
        for (address, name) in rows.iter().filter(|(a, _)| a.contains('@')) {
            assert_eq!(subjects.get(address.as_str()).copied(), Some(format!("{name}, your Gold offer").as_str()));
        }
    }
    assert_eq!(subjects.len(), 24);
    drop(runner);
}
