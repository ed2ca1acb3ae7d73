//! The built-in detectors (email, phone, IBAN, card, SSN, IP) and the custom-pattern detector.
//!
//! Each built-in finds candidates with a regex and keeps those that pass its checks: the context
//! (no word character glued to either side, not part of a longer run of digit groups) and the
//! validity rules in [`super::checks`]. The regexes have no `\b`: a Unicode word boundary makes
//! the regex crate leave its fast DFA on non-ASCII text, so boundaries are checked by hand.

use std::net::Ipv6Addr;
use std::str::FromStr;
use std::sync::LazyLock;

use regex::Regex;

use super::checks;
use super::{PiiDetector, PiiMatch};

pub(super) const EMAIL: &str = "email";
pub(super) const PHONE: &str = "phone";
pub(super) const IBAN: &str = "iban";
pub(super) const CARD: &str = "card";
pub(super) const SSN: &str = "ssn";
pub(super) const IP: &str = "ip";

/// Labels a custom pattern may not take.
pub(super) const BUILTIN_LABELS: [&str; 6] = [EMAIL, PHONE, IBAN, CARD, SSN, IP];

/// The built-in detectors.
pub(super) fn builtins() -> Vec<Box<dyn PiiDetector>> {
    vec![
        Box::new(Email),
        Box::new(Iban),
        Box::new(Card),
        Box::new(Ssn),
        Box::new(Ip),
        Box::new(Phone),
    ]
}

fn compile(pattern: &str) -> Regex {
    Regex::new(pattern).expect("built-in PII patterns compile")
}

// Local part: word characters (Unicode letters too, so `jörg.m@…` is taken whole) and . _ % + -;
// domain: labels of letters, digits and inner hyphens; TLD: two or more letters.
static EMAIL_RE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"[\w.%+\-]+@(?:[^\W_](?:[\w\-]*[^\W_])?\.)+[^\W\d_]{2,}"));
// `+<country> …`: groups of digits or `(digits)`, separated by at most one space, dot or dash.
static PHONE_INTL_RE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"\+[0-9]{1,3}(?:[ .\-]?(?:\([0-9]{1,4}\)|[0-9]{1,6})){1,7}"));
// North American: 555-123-4567, 555.123.4567, (555) 123-4567, optional leading 1.
static PHONE_NA_RE: LazyLock<Regex> = LazyLock::new(|| {
    compile(concat!(
        r"(?:1-)?[2-9][0-9]{2}-[0-9]{3}-[0-9]{4}",
        r"|(?:1\.)?[2-9][0-9]{2}\.[0-9]{3}\.[0-9]{4}",
        r"|(?:1 ?)?\([2-9][0-9]{2}\) ?[0-9]{3}[\-. ][0-9]{4}",
    ))
});
// Compact, or in blocks of four separated by single spaces.
static IBAN_RE: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"[A-Z]{2}[0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)")
});
static CARD_RE: LazyLock<Regex> = LazyLock::new(|| compile(r"[0-9](?:[ \-]?[0-9]){12,18}"));
static SSN_RE: LazyLock<Regex> = LazyLock::new(|| compile(r"[0-9]{3}[\- ][0-9]{2}[\- ][0-9]{4}"));
static IPV4_RE: LazyLock<Regex> =
    LazyLock::new(|| compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}"));
// 2-8 hex groups (empty ones for `::`), optionally ending in an embedded IPv4 address.
static IPV6_RE: LazyLock<Regex> = LazyLock::new(|| {
    compile(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3})?")
});

fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The two characters before byte `i`, nearest first.
fn before2(text: &str, i: usize) -> (Option<char>, Option<char>) {
    let mut it = text[..i].chars().rev();
    (it.next(), it.next())
}

/// The two characters from byte `i` on.
fn after2(text: &str, i: usize) -> (Option<char>, Option<char>) {
    let mut it = text[i..].chars();
    (it.next(), it.next())
}

/// `(c, d)` is a separator out of `seps` next to the range, then `d` beyond it matching `far`.
fn sep_then(pair: (Option<char>, Option<char>), seps: &str, far: impl Fn(char) -> bool) -> bool {
    matches!(pair, (Some(c), Some(d)) if seps.contains(c) && far(d))
}

/// No word character glued to the start.
fn starts_clean(text: &str, s: usize) -> bool {
    !before2(text, s).0.is_some_and(is_word)
}

/// No word character glued to the end.
fn ends_clean(text: &str, e: usize) -> bool {
    !after2(text, e).0.is_some_and(is_word)
}

/// Whether the range continues a run of digit groups joined by one of `seps` (`12-` before it or
/// `-34` after it): then it is a piece of a longer number, not a number of its own.
fn in_digit_run(text: &str, s: usize, e: usize, seps: &str) -> bool {
    let digit = |c: char| c.is_ascii_digit();
    sep_then(before2(text, s), seps, digit) || sep_then(after2(text, e), seps, digit)
}

/// Runs `re` over `text`. `check(start, end)` gives the accepted end (the candidate's or a shorter
/// one) or `None`; then the search goes on one character after `start`, so a valid match that
/// starts inside a rejected candidate is still found. Built-in candidates are short (at most ~50
/// bytes), so this stays linear in the text.
fn scan(
    re: &Regex,
    text: &str,
    label: &str,
    out: &mut Vec<PiiMatch>,
    check: impl FnMut(usize, usize) -> Option<usize>,
) {
    scan_with(re, text, label, out, false, check);
}

/// [`scan`], or with `skip_rejected` the search goes on after a rejected candidate (for
/// candidates of unbounded length, where retrying inside them would be quadratic).
fn scan_with(
    re: &Regex,
    text: &str,
    label: &str,
    out: &mut Vec<PiiMatch>,
    skip_rejected: bool,
    mut check: impl FnMut(usize, usize) -> Option<usize>,
) {
    let mut pos = 0;
    while pos <= text.len() {
        let Some(m) = re.find_at(text, pos) else {
            break;
        };
        let start = m.start();
        match check(start, m.end()).filter(|&end| end > start) {
            Some(end) => {
                out.push(PiiMatch {
                    label: label.to_owned(),
                    start,
                    end,
                });
                pos = end;
            }
            None => {
                let next = start + after2(text, start).0.map_or(1, char::len_utf8);
                pos = if skip_rejected {
                    m.end().max(next)
                } else {
                    next
                };
            }
        }
    }
}

/// Ends (relative to the candidate) to try, longest first: the whole candidate, then the end of
/// each group of characters before a separator. Candidates are ASCII.
fn group_ends(cand: &str, seps: &str) -> Vec<usize> {
    let b = cand.as_bytes();
    let is_sep = |i: usize| seps.as_bytes().contains(&b[i]);
    let mut ends = vec![cand.len()];
    ends.extend((1..b.len()).rev().filter(|&i| is_sep(i) && !is_sep(i - 1)));
    ends
}

/// The first of `ends` (relative to `s`) whose piece ends cleanly and passes `valid`.
fn first_valid(
    text: &str,
    s: usize,
    ends: Vec<usize>,
    right_seps: &str,
    valid: impl Fn(&str) -> bool,
) -> Option<usize> {
    ends.into_iter().map(|end| s + end).find(|&e| {
        ends_clean(text, e)
            && !sep_then(after2(text, e), right_seps, |c| c.is_ascii_digit())
            && valid(&text[s..e])
    })
}

pub(super) struct Email;

impl PiiDetector for Email {
    fn label(&self) -> &str {
        EMAIL
    }

    fn find(&self, text: &str, out: &mut Vec<PiiMatch>) {
        // The leftmost candidate already starts at the whole local part, and a candidate that
        // ends badly ends badly from every later start: skip it whole.
        scan_with(&EMAIL_RE, text, EMAIL, out, true, |s, e| {
            let glued = before2(text, s)
                .0
                .is_some_and(|c| is_word(c) || ".%+-@".contains(c));
            (!glued && ends_clean(text, e) && !text[e..].starts_with('@')).then_some(e)
        });
    }
}

pub(super) struct Phone;

impl Phone {
    fn intl_valid(cand: &str) -> bool {
        let digits = cand.bytes().filter(u8::is_ascii_digit).count();
        (8..=15).contains(&digits)
    }
}

impl PiiDetector for Phone {
    fn label(&self) -> &str {
        PHONE
    }

    fn find(&self, text: &str, out: &mut Vec<PiiMatch>) {
        scan(&PHONE_INTL_RE, text, PHONE, out, |s, e| {
            if !starts_clean(text, s) || before2(text, s).0 == Some('+') {
                return None;
            }
            let ends = group_ends(&text[s..e], " .-");
            // `,` too: `+12.345.678,00` is an amount.
            first_valid(text, s, ends, ".-,", Self::intl_valid)
        });
        scan(&PHONE_NA_RE, text, PHONE, out, |s, e| {
            let clean = starts_clean(text, s) && ends_clean(text, e);
            (clean && !in_digit_run(text, s, e, "-./")).then_some(e)
        });
    }
}

pub(super) struct Iban;

impl PiiDetector for Iban {
    fn label(&self) -> &str {
        IBAN
    }

    fn find(&self, text: &str, out: &mut Vec<PiiMatch>) {
        scan(&IBAN_RE, text, IBAN, out, |s, e| {
            if !starts_clean(text, s) {
                return None;
            }
            let ends = group_ends(&text[s..e], " ");
            first_valid(text, s, ends, "", |cand| {
                let compact: Vec<u8> = cand.bytes().filter(|&b| b != b' ').collect();
                checks::iban_valid(&compact)
            })
        });
    }
}

pub(super) struct Card;

impl Card {
    /// Ungrouped, or one kind of separator: 4-4-4-4 (the last group 1-4 digits, 13-19 in all),
    /// 4-6-5 (Amex) or 4-6-4 (Diners).
    fn shape_ok(cand: &str) -> bool {
        let Some(sep) = cand.bytes().find(|b| !b.is_ascii_digit()) else {
            return true;
        };
        if cand.bytes().any(|b| !b.is_ascii_digit() && b != sep) {
            return false;
        }
        let groups: Vec<usize> = cand.split(char::from(sep)).map(str::len).collect();
        match groups.as_slice() {
            [4, 6, 4] | [4, 6, 5] => true,
            [init @ .., last] => {
                init.len() >= 3 && init.iter().all(|&g| g == 4) && (1..=4).contains(last)
            }
            [] => false,
        }
    }

    fn valid(cand: &str) -> bool {
        let digits: Vec<u8> = cand.bytes().filter(u8::is_ascii_digit).collect();
        (13..=19).contains(&digits.len())
            && Self::shape_ok(cand)
            && checks::luhn_valid(&digits)
            && checks::card_issuer_known(&digits)
    }
}

impl PiiDetector for Card {
    fn label(&self) -> &str {
        CARD
    }

    fn find(&self, text: &str, out: &mut Vec<PiiMatch>) {
        scan(&CARD_RE, text, CARD, out, |s, e| {
            let digit = |c: char| c.is_ascii_digit();
            if !starts_clean(text, s) || sep_then(before2(text, s), "-.", digit) {
                return None;
            }
            let ends = group_ends(&text[s..e], " -");
            first_valid(text, s, ends, "-.", Self::valid)
        });
    }
}

pub(super) struct Ssn;

impl PiiDetector for Ssn {
    fn label(&self) -> &str {
        SSN
    }

    fn find(&self, text: &str, out: &mut Vec<PiiMatch>) {
        scan(&SSN_RE, text, SSN, out, |s, e| {
            let b = &text.as_bytes()[s..e];
            // The same separator twice; with spaces, a neighbouring digit group is a run too.
            let run_seps = if b[3] == b' ' { "-./ " } else { "-./" };
            let ok = b[3] == b[6]
                && starts_clean(text, s)
                && ends_clean(text, e)
                && !in_digit_run(text, s, e, run_seps)
                && checks::ssn_str_valid(b);
            ok.then_some(e)
        });
    }
}

pub(super) struct Ip;

impl Ip {
    /// `Ipv6Addr` parses it; a compressed (`::`) form needs two non-empty groups and a decimal
    /// digit, so `::`, `a::b` and `std::io`-like code paths are not addresses.
    fn ipv6_valid(cand: &str) -> bool {
        if Ipv6Addr::from_str(cand).is_err() {
            return false;
        }
        !cand.contains("::")
            || (cand.split(':').filter(|g| !g.is_empty()).count() >= 2
                && cand.bytes().any(|b| b.is_ascii_digit()))
    }
}

impl PiiDetector for Ip {
    fn label(&self) -> &str {
        IP
    }

    fn find(&self, text: &str, out: &mut Vec<PiiMatch>) {
        scan(&IPV4_RE, text, IP, out, |s, e| {
            // Not a piece of `1.2.3.4.5` or of a longer dotted name.
            let ok = starts_clean(text, s)
                && ends_clean(text, e)
                && !sep_then(before2(text, s), ".", is_word)
                && !sep_then(after2(text, e), ".", is_word)
                && checks::ipv4_valid(&text[s..e]);
            ok.then_some(e)
        });
        scan(&IPV6_RE, text, IP, out, |s, e| {
            if !starts_clean(text, s) || before2(text, s).0.is_some_and(|c| c == ':' || c == '.') {
                return None;
            }
            let cand = &text[s..e];
            let mut ends = vec![cand.len()];
            // `…::1:` at the end of a phrase ("2001:db8::1: unreachable").
            if cand.ends_with(':') && !cand.ends_with("::") {
                ends.push(cand.len() - 1);
            }
            ends.into_iter().map(|end| s + end).find(|&e| {
                ends_clean(text, e)
                    && !sep_then(after2(text, e), ":", |c| is_word(c) || c == ':')
                    && !sep_then(after2(text, e), ".", |c| c.is_ascii_digit())
                    && Self::ipv6_valid(&text[s..e])
            })
        });
    }
}

/// A profile's pattern: every non-empty match, as the pattern says (no extra boundary checks).
pub(super) struct Custom {
    pub(super) label: String,
    pub(super) re: Regex,
}

impl PiiDetector for Custom {
    fn label(&self) -> &str {
        &self.label
    }

    fn find(&self, text: &str, out: &mut Vec<PiiMatch>) {
        out.extend(
            self.re
                .find_iter(text)
                .filter(|m| !m.is_empty())
                .map(|m| PiiMatch {
                    label: self.label.clone(),
                    start: m.start(),
                    end: m.end(),
                }),
        );
    }
}
