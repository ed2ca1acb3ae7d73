//! RTF: a small tokenizer/interpreter for the text-bearing subset: groups, control words,
//! `\par`/`\line`/`\tab`, `\'hh` in the document's ANSI code page, `\uN` with `\ucN` fallback
//! skipping, tables (`\cell`/`\row`), headings from `\outlinelevelN`, list items from `\lsN`.
//! Non-text and ignorable (`{\*...}`) destinations are skipped. Group nesting is bounded;
//! unbalanced groups at the end are tolerated (many writers truncate).

use encoding_rs::Encoding;

use crate::text::{Kind, Writer};
use crate::{Extracted, Format, FormatError, Limits};

/// Destinations whose contents are not document text.
const SKIP_DEST: &[&str] = &[
    "fonttbl",
    "colortbl",
    "stylesheet",
    "info",
    "pict",
    "header",
    "headerl",
    "headerr",
    "headerf",
    "footer",
    "footerl",
    "footerr",
    "footerf",
    "object",
    "fldinst",
    "themedata",
    "colorschememapping",
    "latentstyles",
    "datastore",
    "xmlnstbl",
    "listtable",
    "listoverridetable",
    "rsidtbl",
    "generator",
    "pgdsctbl",
    "revtbl",
    "filetbl",
    "listtext",
    "pntext",
    "pntxta",
    "pntxtb",
    "bkmkstart",
    "bkmkend",
    "annotation",
    "atnid",
    "atnauthor",
    "xe",
    "tc",
    "userprops",
    "nonshppict",
    "blipuid",
];

#[derive(Clone, Copy)]
struct Group {
    skip: bool,
    uc: usize,
}

struct State {
    w: Writer,
    pending: Vec<u8>,
    encoding: &'static Encoding,
    in_table: bool,
    intbl: bool,
    /// The paragraph has an outline level: a heading, even when numbered through a list.
    heading: bool,
}

impl State {
    /// Decodes buffered code-page bytes into the writer.
    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.table_check();
        let (text, _, _) = self.encoding.decode(&self.pending);
        self.w.text(&text);
        self.pending.clear();
    }

    /// A paragraph outside `\intbl` after table rows ends the table.
    fn table_check(&mut self) {
        if self.in_table && !self.intbl {
            self.w.end_table();
            self.in_table = false;
        }
    }

    fn push_char(&mut self, c: char) {
        self.flush();
        self.table_check();
        let mut buf = [0u8; 4];
        self.w.text(c.encode_utf8(&mut buf));
    }
}

fn code_page(n: i32) -> &'static Encoding {
    match n {
        874 => encoding_rs::WINDOWS_874,
        932 => encoding_rs::SHIFT_JIS,
        936 => encoding_rs::GBK,
        949 => encoding_rs::EUC_KR,
        950 => encoding_rs::BIG5,
        1250 => encoding_rs::WINDOWS_1250,
        1251 => encoding_rs::WINDOWS_1251,
        1253 => encoding_rs::WINDOWS_1253,
        1254 => encoding_rs::WINDOWS_1254,
        1255 => encoding_rs::WINDOWS_1255,
        1256 => encoding_rs::WINDOWS_1256,
        1257 => encoding_rs::WINDOWS_1257,
        1258 => encoding_rs::WINDOWS_1258,
        10000 => encoding_rs::MACINTOSH,
        65001 => encoding_rs::UTF_8,
        _ => encoding_rs::WINDOWS_1252,
    }
}

pub(crate) fn extract(bytes: &[u8], limits: &Limits) -> Result<Extracted, FormatError> {
    let start = bytes.iter().position(|b| *b == b'{').unwrap_or(bytes.len());
    let data = &bytes[start..];
    if !data.starts_with(b"{\\rtf") {
        return Err(FormatError::corrupt(
            Format::Rtf,
            "the file does not start with {\\rtf",
        ));
    }
    let mut st = State {
        w: Writer::new(limits),
        pending: Vec::new(),
        encoding: encoding_rs::WINDOWS_1252,
        in_table: false,
        intbl: false,
        heading: false,
    };
    let mut stack: Vec<Group> = Vec::new();
    let mut cur = Group { skip: false, uc: 1 };
    // Fallback characters still to skip after a \uN.
    let mut to_skip = 0usize;
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        match b {
            b'{' => {
                if stack.len() >= limits.max_xml_depth {
                    return Err(FormatError::corrupt(
                        Format::Rtf,
                        format!("groups nested deeper than {} levels", limits.max_xml_depth),
                    ));
                }
                stack.push(cur);
                to_skip = 0;
                i += 1;
            }
            b'}' => {
                st.flush();
                cur = stack.pop().unwrap_or(cur);
                to_skip = 0;
                i += 1;
            }
            b'\\' => {
                let (word, param, next) = control(data, i + 1);
                i = next;
                let mut byte = None;
                if word == "'" {
                    let hex = data.get(i..i + 2).and_then(|h| std::str::from_utf8(h).ok());
                    byte = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                    if byte.is_some() {
                        i += 2;
                    }
                }
                if to_skip > 0 {
                    to_skip -= 1;
                    continue;
                }
                match word {
                    "'" => {
                        if let Some(v) = byte.filter(|_| !cur.skip) {
                            st.pending.push(v);
                        }
                    }
                    _ if cur.skip => {}
                    "*" => cur.skip = true,
                    "u" => {
                        let code = param.unwrap_or(0);
                        let code = if code < 0 { code + 65536 } else { code };
                        let c = u32::try_from(code).ok().and_then(char::from_u32);
                        st.push_char(c.unwrap_or('\u{fffd}'));
                        to_skip = cur.uc;
                    }
                    "uc" => cur.uc = usize::try_from(param.unwrap_or(1)).unwrap_or(1).min(8),
                    "ansicpg" => st.encoding = code_page(param.unwrap_or(1252)),
                    "\\" | "{" | "}" => st.push_char(char::from(word.as_bytes()[0])),
                    "~" => st.push_char(' '),
                    "_" => st.push_char('-'),
                    "par" | "sect" | "page" | "\n" | "\r" => {
                        st.flush();
                        st.table_check();
                        st.w.end_para();
                    }
                    "line" => {
                        st.flush();
                        st.w.newline();
                    }
                    "tab" | "emspace" | "enspace" => st.push_char(' '),
                    "emdash" => st.push_char('\u{2014}'),
                    "endash" => st.push_char('\u{2013}'),
                    "lquote" => st.push_char('\u{2018}'),
                    "rquote" => st.push_char('\u{2019}'),
                    "ldblquote" => st.push_char('\u{201c}'),
                    "rdblquote" => st.push_char('\u{201d}'),
                    "bullet" => st.push_char('\u{2022}'),
                    "pard" => {
                        st.flush();
                        st.intbl = false;
                        st.heading = false;
                        st.w.set_kind(Kind::Para);
                    }
                    "intbl" => st.intbl = true,
                    "trowd" => {
                        st.flush();
                        if !st.in_table {
                            st.w.start_table();
                            st.in_table = true;
                        }
                        st.intbl = true;
                    }
                    "cell" => {
                        st.flush();
                        st.w.end_cell();
                    }
                    "row" => {
                        st.flush();
                        st.w.end_row();
                    }
                    "outlinelevel" => {
                        let level = u8::try_from(param.unwrap_or(0).clamp(0, 8)).unwrap_or(0);
                        st.w.set_kind(Kind::Heading(level + 1));
                        st.heading = true;
                    }
                    "ls" if !st.heading => st.w.set_kind(Kind::Item),
                    w if SKIP_DEST.contains(&w) => {
                        st.flush();
                        cur.skip = true;
                    }
                    _ => st.flush(),
                }
            }
            b'\r' | b'\n' => i += 1,
            _ => {
                i += 1;
                if to_skip > 0 {
                    to_skip -= 1;
                } else if !cur.skip {
                    st.pending.push(b);
                }
            }
        }
    }
    st.flush();
    while st.in_table {
        st.intbl = false;
        st.table_check();
    }
    Ok(Extracted {
        sections: st.w.finish()?,
        attachments: Vec::new(),
    })
}

/// Reads a control word or symbol after a backslash at `i`: (word, numeric parameter, next index).
/// A single space after a control word is its delimiter and is consumed.
fn control(data: &[u8], mut i: usize) -> (&str, Option<i32>, usize) {
    let start = i;
    while i < data.len() && data[i].is_ascii_alphabetic() && i - start < 32 {
        i += 1;
    }
    if i == start {
        // Control symbol: one character (\' is followed by two hex digits, read by the caller).
        let end = (i + 1).min(data.len());
        let sym = std::str::from_utf8(&data[start..end]).unwrap_or("?");
        return (sym, None, end);
    }
    let word = std::str::from_utf8(&data[start..i]).unwrap_or("");
    let num_start = i;
    if i < data.len() && data[i] == b'-' {
        i += 1;
    }
    while i < data.len() && data[i].is_ascii_digit() && i - num_start < 10 {
        i += 1;
    }
    let param = std::str::from_utf8(&data[num_start..i])
        .ok()
        .and_then(|s| s.parse::<i32>().ok());
    if param.is_none() {
        i = num_start;
    }
    if i < data.len() && data[i] == b' ' {
        i += 1;
    }
    (word, param, i)
}
