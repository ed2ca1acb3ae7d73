//! XLSX, XLS and ODS through calamine: one section per non-empty sheet ("sheet Budget"), one line
//! per non-empty row, cells joined with " | ", formula cells as their cached values.
//!
//! calamine opens the ZIP itself, without our limits, so XLSX/ODS archives are first fully
//! inflated through [`SafeZip::check_all`]. XLSX cells are streamed into a sparse map, so a sheet
//! with two far-apart cells does not allocate the dense rectangle between them.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::{Data, Ods, Reader, Xls, Xlsx};

use crate::text::{Writer, tidy};
use crate::zip_safe::SafeZip;
use crate::{Extracted, Format, FormatError, Limits};

/// calamine materialises ODS/XLS sheets as dense rectangles; refuse sheets whose filled cells
/// span more than this many cells (about 320 MB of cell values).
const MAX_DENSE_CELLS: u64 = 10_000_000;

/// row -> column -> cell text.
type Grid = BTreeMap<u32, BTreeMap<u32, String>>;

pub(crate) fn extract(
    format: Format,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Extracted, FormatError> {
    if format != Format::Xls {
        let mut zip = SafeZip::open(bytes, format, limits)?;
        if format == Format::Ods {
            crate::odf::refuse_encrypted(&mut zip, limits)?;
            let content = zip.require("content.xml")?;
            ods_dense_size(&content, limits)?;
        }
        zip.check_all()?;
    }
    // calamine asserts on some malformed records (seen on damaged XLS): a panic there is a
    // corrupt file, not a crash of the worker.
    let read = std::panic::catch_unwind(|| read_sheets(format, bytes, limits));
    let sheets = read.map_err(|_| {
        FormatError::corrupt(
            format,
            "the workbook's records are malformed (the reader gave up)",
        )
    })??;
    write_sheets(format, sheets, limits)
}

fn read_sheets(
    format: Format,
    bytes: &[u8],
    limits: &Limits,
) -> Result<Vec<(String, Grid)>, FormatError> {
    let cursor = Cursor::new(bytes);
    let sheets = match format {
        Format::Xlsx => {
            let mut book = Xlsx::new(cursor).map_err(|e| error(format, &e))?;
            let names = book.sheet_names();
            check_count(names.len(), limits)?;
            let mut out = Vec::new();
            for name in names {
                let mut grid = Grid::new();
                let mut cells = book
                    .worksheet_cells_reader(&name)
                    .map_err(|e| error(format, &e))?;
                while let Some(cell) = cells.next_cell().map_err(|e| error(format, &e))? {
                    let (row, col) = cell.get_position();
                    put(&mut grid, row, col, &Data::from(cell.get_value().clone()));
                }
                out.push((name, grid));
            }
            out
        }
        Format::Xls => {
            let book = Xls::new(cursor).map_err(|e| error(format, &e))?;
            ranges(format, book, limits)?
        }
        _ => {
            let book = Ods::new(cursor).map_err(|e| error(format, &e))?;
            ranges(format, book, limits)?
        }
    };
    // Every spreadsheet application writes at least one sheet: none at all is a damaged
    // workbook (e.g. an XLS Workbook stream cut after its BOF record), not an empty one.
    if sheets.is_empty() {
        return Err(FormatError::corrupt(
            format,
            "the workbook lists no sheets (its sheet directory is missing or damaged)",
        ));
    }
    Ok(sheets)
}

fn write_sheets(
    format: Format,
    sheets: Vec<(String, Grid)>,
    limits: &Limits,
) -> Result<Extracted, FormatError> {
    let mut w = Writer::new(limits);
    for (name, grid) in sheets {
        let first_col = grid
            .values()
            .filter_map(|r| r.keys().next())
            .min()
            .copied()
            .unwrap_or(0);
        let lines: Vec<String> = grid
            .values()
            .filter_map(|row| line(row, first_col))
            .collect();
        if lines.is_empty() {
            continue;
        }
        w.block(lines.join("\n"));
        w.end_section(Some(format!("sheet {name}")))?;
    }
    let sections = w.finish()?;
    if sections.iter().all(|s| s.text.is_empty()) {
        return Err(FormatError::NoText {
            message: format!("every sheet of the {} workbook is empty", format.name()),
        });
    }
    Ok(Extracted {
        sections,
        attachments: Vec::new(),
    })
}

fn ranges<RS, R>(
    format: Format,
    mut book: R,
    limits: &Limits,
) -> Result<Vec<(String, Grid)>, FormatError>
where
    RS: std::io::Read + std::io::Seek,
    R: Reader<RS>,
    R::Error: std::fmt::Display,
{
    let names = book.sheet_names();
    check_count(names.len(), limits)?;
    let mut out = Vec::new();
    for name in names {
        let range = book.worksheet_range(&name).map_err(|e| error(format, &e))?;
        let mut grid = Grid::new();
        for (row, col, value) in range.used_cells() {
            let (r0, c0) = range.start().unwrap_or((0, 0));
            let to_u32 = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
            put(
                &mut grid,
                r0.saturating_add(to_u32(row)),
                c0.saturating_add(to_u32(col)),
                value,
            );
        }
        out.push((name, grid));
    }
    Ok(out)
}

fn put(grid: &mut Grid, row: u32, col: u32, value: &Data) {
    let text = tidy(&value.to_string().replace(['\n', '\r'], " "));
    if !text.is_empty() {
        grid.entry(row).or_default().insert(col, text);
    }
}

/// One row as "a | b | c", keeping empty cells between filled ones so columns stay aligned.
fn line(row: &BTreeMap<u32, String>, first_col: u32) -> Option<String> {
    let last = *row.keys().next_back()?;
    let span = last.saturating_sub(first_col);
    let cells: Vec<&str> = if span <= 256 {
        (first_col..=last)
            .map(|c| row.get(&c).map_or("", String::as_str))
            .collect()
    } else {
        row.values().map(String::as_str).collect()
    };
    Some(cells.join(" | "))
}

fn check_count(n: usize, limits: &Limits) -> Result<(), FormatError> {
    if n as u64 > limits.max_sections {
        return Err(FormatError::TooManySections {
            sections: n as u64,
            limit: limits.max_sections,
        });
    }
    Ok(())
}

fn error(format: Format, e: &dyn std::fmt::Display) -> FormatError {
    let message = e.to_string();
    if message.to_ascii_lowercase().contains("password") {
        return FormatError::Encrypted {
            format_name: format.name().to_string(),
        };
    }
    FormatError::corrupt(format, format!("the workbook cannot be read ({message})"))
}

/// Estimates the dense rectangle calamine would allocate for each ODS sheet from the row and
/// column repeat counts of non-empty cells, and refuses oversized ones before calamine runs.
fn ods_dense_size(content: &[u8], limits: &Limits) -> Result<(), FormatError> {
    let repeat = |el: &crate::xml::El, name: &str| -> u64 {
        el.attr(name)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(1)
            .max(1)
    };
    let (mut row, mut col, mut row_rep) = (0u64, 0u64, 1u64);
    let (mut max_row, mut max_col) = (0u64, 0u64);
    let mut sheet = String::new();
    crate::xml::walk(content, Format::Ods, "content.xml", limits, |ev| {
        match ev {
            crate::xml::Ev::Start(el) => match el.local() {
                "table" => {
                    (row, max_row, max_col) = (0, 0, 0);
                    sheet = el.attr("table:name").unwrap_or("").to_string();
                }
                "table-row" => {
                    col = 0;
                    row_rep = repeat(el, "table:number-rows-repeated");
                }
                "table-cell" | "covered-table-cell" => {
                    let reps = repeat(el, "table:number-columns-repeated");
                    if el.attr("office:value-type").is_some() {
                        max_row = max_row.max(row.saturating_add(row_rep));
                        max_col = max_col.max(col.saturating_add(reps));
                        if max_row.saturating_mul(max_col) > MAX_DENSE_CELLS {
                            return Err(FormatError::ArchiveLimit {
                                message: format!(
                                    "refused: sheet {sheet} spans more than {MAX_DENSE_CELLS} cells \
                                     ({max_row} rows x {max_col} columns)"
                                ),
                            });
                        }
                    }
                    col = col.saturating_add(reps);
                }
                _ => {}
            },
            crate::xml::Ev::End("table-row") => row = row.saturating_add(row_rep),
            _ => {}
        }
        Ok(())
    })
}
