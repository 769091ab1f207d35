//! `xlsx [ROWS]`: the `list` benchmark for an Excel workbook. A ROWS-row sheet (1,000,000 by
//! default; the same rows as `list`) is written once by a child process, so the writer's
//! memory is not counted, to `target/bench-lists/`; then it is read as the splitter reads an
//! uploaded workbook (copied to a temporary file, its first sheet streamed).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use fanmail_bench::{cpu_seconds, peak_rss_mib, GeneratedList, RowTally};
use fanmail_common::recipient_list::RecipientList;
use rust_xlsxwriter::Workbook;

fn sheet_path(rows: u64) -> PathBuf {
    fanmail_local::repo_root().join("target/bench-lists").join(format!("list-{rows}.xlsx"))
}

/// `write-xlsx ROWS PATH`: the child's part.
pub fn write(rows: u64, path: &Path) -> Result<()> {
    let mut book = Workbook::new();
    // Low-memory mode still writes a shared string table, as Excel does.
    let sheet = book.add_worksheet_with_low_memory();
    for (c, header) in GeneratedList::HEADER.iter().enumerate() {
        sheet.write_string(0, c as u16, *header)?;
    }
    for i in 0..rows {
        for (c, cell) in GeneratedList::row(i, "example.com").iter().enumerate() {
            sheet.write_string(i as u32 + 1, c as u16, cell)?;
        }
    }
    std::fs::create_dir_all(path.parent().context("a directory")?)?;
    book.save(path)?;
    Ok(())
}

pub fn read(rows: u64) -> Result<()> {
    let path = sheet_path(rows);
    if !path.exists() {
        let status =
            Command::new(std::env::current_exe()?).arg("write-xlsx").arg(rows.to_string()).arg(&path).status()?;
        if !status.success() {
            bail!("writing {} failed", path.display());
        }
    }
    let bytes = std::fs::metadata(&path)?.len();
    let (cpu, wall) = (cpu_seconds(), Instant::now());
    let mut list = RecipientList::open_workbook(std::fs::File::open(&path)?)?;
    let RowTally { recipients, rejected, duplicates } = RowTally::of(&mut list)?;
    let (cpu, wall) = (cpu_seconds() - cpu, wall.elapsed().as_secs_f64());
    if recipients + rejected + duplicates != rows {
        bail!("read {} rows of {rows}", recipients + rejected + duplicates);
    }
    println!("xlsx.rows                    {rows}");
    println!("xlsx.file_mib                {:.1}", bytes as f64 / 1048576.0);
    println!("xlsx.recipients              {recipients}");
    println!("xlsx.rejected                {rejected}");
    println!("xlsx.duplicates              {duplicates}");
    println!("xlsx.cpu_seconds             {cpu:.2}");
    println!("xlsx.rows_per_cpu_second     {:.0}", rows as f64 / cpu);
    println!("xlsx.wall_seconds            {wall:.2}");
    println!("xlsx.peak_rss_mib            {:.1}", peak_rss_mib());
    Ok(())
}
