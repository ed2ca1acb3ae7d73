//! The shared text builder: every format reports paragraphs, headings, list items, tables and
//! section breaks to a [`Writer`], which applies one set of output conventions
//! (blank line between blocks, `#` headings, `- ` items, table rows as `a | b | c`).

use crate::{FormatError, Limits, Section};

/// What kind of block the current paragraph is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Kind {
    #[default]
    Para,
    Heading(u8),
    Item,
}

#[derive(Default)]
struct Table {
    rows: Vec<String>,
    cells: Vec<String>,
    cell: String,
}

pub(crate) struct Writer {
    sections: Vec<Section>,
    /// Finished blocks; `true` marks list items, which are joined by a single newline.
    blocks: Vec<(bool, String)>,
    para: String,
    kind: Kind,
    tables: Vec<Table>,
    max_sections: u64,
}

impl Writer {
    pub(crate) fn new(limits: &Limits) -> Self {
        Writer {
            sections: Vec::new(),
            blocks: Vec::new(),
            para: String::new(),
            kind: Kind::Para,
            tables: Vec::new(),
            max_sections: limits.max_sections,
        }
    }

    /// Adds running text; any whitespace run becomes one space.
    pub(crate) fn text(&mut self, s: &str) {
        for c in s.chars() {
            if c.is_whitespace() {
                self.space();
            } else if !c.is_control() {
                self.para.push(c);
            }
        }
    }

    pub(crate) fn space(&mut self) {
        if !self.para.is_empty() && !self.para.ends_with([' ', '\n']) {
            self.para.push(' ');
        }
    }

    /// A line break inside the paragraph.
    pub(crate) fn newline(&mut self) {
        while self.para.ends_with(' ') {
            self.para.pop();
        }
        if !self.para.is_empty() && !self.para.ends_with("\n\n") {
            self.para.push('\n');
        }
    }

    pub(crate) fn set_kind(&mut self, kind: Kind) {
        self.kind = kind;
    }

    /// Ends the current paragraph (a no-op when it is empty).
    pub(crate) fn end_para(&mut self) {
        let text = tidy(&std::mem::take(&mut self.para));
        let kind = std::mem::take(&mut self.kind);
        if text.is_empty() {
            return;
        }
        if let Some(t) = self.tables.last_mut() {
            if !t.cell.is_empty() {
                t.cell.push(' ');
            }
            t.cell.push_str(&text.replace('\n', " "));
            return;
        }
        let block = match kind {
            Kind::Para => text,
            Kind::Heading(level) => {
                format!(
                    "{} {}",
                    "#".repeat(usize::from(level.clamp(1, 6))),
                    text.replace('\n', " ")
                )
            }
            Kind::Item => format!("- {}", text.replace('\n', "\n  ")),
        };
        self.blocks.push((kind == Kind::Item, block));
    }

    /// Appends a whole block (e.g. a spreadsheet row group) as is.
    pub(crate) fn block(&mut self, text: String) {
        self.end_para();
        if !text.is_empty() {
            self.blocks.push((false, text));
        }
    }

    pub(crate) fn start_table(&mut self) {
        self.end_para();
        self.tables.push(Table::default());
    }

    pub(crate) fn end_cell(&mut self) {
        self.end_para();
        if let Some(t) = self.tables.last_mut() {
            let cell = std::mem::take(&mut t.cell);
            t.cells.push(cell);
        }
    }

    pub(crate) fn end_row(&mut self) {
        self.end_para();
        if let Some(t) = self.tables.last_mut() {
            if !t.cell.is_empty() {
                let cell = std::mem::take(&mut t.cell);
                t.cells.push(cell);
            }
            let cells = std::mem::take(&mut t.cells);
            if let Some(row) = row_line(&cells) {
                t.rows.push(row);
            }
        }
    }

    /// Ends a table; a nested table's rows are folded into the enclosing cell.
    pub(crate) fn end_table(&mut self) {
        self.end_para();
        let Some(mut t) = self.tables.pop() else {
            return;
        };
        if !t.cells.is_empty() || !t.cell.is_empty() {
            let mut cells = std::mem::take(&mut t.cells);
            cells.push(std::mem::take(&mut t.cell));
            t.rows.extend(row_line(&cells));
        }
        if t.rows.is_empty() {
            return;
        }
        match self.tables.last_mut() {
            Some(outer) => {
                if !outer.cell.is_empty() {
                    outer.cell.push(' ');
                }
                outer.cell.push_str(&t.rows.join("; "));
            }
            None => self.blocks.push((false, t.rows.join("\n"))),
        }
    }

    /// Whether anything was written since the last section break.
    pub(crate) fn is_blank(&self) -> bool {
        self.blocks.is_empty() && self.para.trim().is_empty() && self.tables.is_empty()
    }

    /// Closes the current section (even an empty one: callers decide), keeping the paragraph
    /// kind for text that continues after a mid-paragraph page break.
    pub(crate) fn end_section(&mut self, label: Option<String>) -> Result<(), FormatError> {
        let kind = self.kind;
        while !self.tables.is_empty() {
            self.end_table();
        }
        self.end_para();
        self.kind = kind;
        let mut text = String::new();
        let mut prev_item = false;
        for (item, block) in std::mem::take(&mut self.blocks) {
            if !text.is_empty() {
                text.push_str(if item && prev_item { "\n" } else { "\n\n" });
            }
            text.push_str(&block);
            prev_item = item;
        }
        self.sections.push(Section { label, text });
        let n = self.sections.len() as u64;
        if n > self.max_sections {
            return Err(FormatError::TooManySections {
                sections: n,
                limit: self.max_sections,
            });
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Result<Vec<Section>, FormatError> {
        if !self.is_blank() || self.sections.is_empty() {
            self.end_section(None)?;
        }
        Ok(self.sections)
    }
}

/// Paragraphs inside paragraphs (a text box, a frame, a note anchored in one): an inner one
/// continues the outer paragraph after a space; only the outermost ends the block.
#[derive(Debug, Default)]
pub(crate) struct NestedParas {
    depth: usize,
}

impl NestedParas {
    /// A paragraph starts; returns whether it is the outermost.
    pub(crate) fn open(&mut self, w: &mut Writer) -> bool {
        self.depth += 1;
        if self.depth > 1 {
            w.space();
        }
        self.depth == 1
    }

    /// A paragraph ends: the outermost ends the block, an inner one leaves a space.
    pub(crate) fn close(&mut self, w: &mut Writer) {
        self.depth = self.depth.saturating_sub(1);
        if self.depth == 0 {
            w.end_para();
        } else {
            w.space();
        }
    }

    /// Paragraphs open: 0 outside any, 1 in an outermost one.
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }
}

fn row_line(cells: &[String]) -> Option<String> {
    let end = cells.iter().rposition(|c| !c.trim().is_empty())?;
    let line = cells[..=end]
        .iter()
        .map(|c| c.trim())
        .collect::<Vec<_>>()
        .join(" | ");
    Some(tidy(&line))
}

/// Collapses space runs, trims every line, and drops blank lines at the ends.
pub(crate) fn tidy(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for line in s.split('\n') {
        let mut l = String::with_capacity(line.len());
        for word in line
            .split([' ', '\t', '\r', '\u{a0}'])
            .filter(|w| !w.is_empty())
        {
            if !l.is_empty() {
                l.push(' ');
            }
            l.push_str(word);
        }
        if !out.is_empty() || !l.is_empty() {
            out.push_str(&l);
            out.push('\n');
        }
    }
    let trimmed = out.trim_end_matches('\n').len();
    out.truncate(trimmed);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_headings_items_tables() -> Result<(), FormatError> {
        let mut w = Writer::new(&Limits::default());
        w.set_kind(Kind::Heading(2));
        w.text("  Title\t here ");
        w.end_para();
        for item in ["one", "two"] {
            w.set_kind(Kind::Item);
            w.text(item);
            w.end_para();
        }
        w.start_table();
        for row in [["a", "b"], ["c", ""]] {
            for c in row {
                w.text(c);
                w.end_cell();
            }
            w.end_row();
        }
        w.end_table();
        let s = w.finish()?;
        assert_eq!(s[0].text, "## Title here\n\n- one\n- two\n\na | b\nc");
        Ok(())
    }
}
