use super::*;
use crate::Page;

fn scanner() -> PiiScanner {
    PiiScanner::new(&[]).expect("built-ins")
}

/// (label, matched text) for every match of the built-in scanner.
fn found(text: &str) -> Vec<(String, String)> {
    scanner()
        .scan(text)
        .into_iter()
        .map(|m| (m.label, text[m.start..m.end].to_owned()))
        .collect()
}

/// `text` holds exactly one match, labelled `label` and covering `want`.
#[track_caller]
fn one(label: &str, text: &str, want: &str) {
    assert_eq!(
        found(text),
        vec![(label.to_owned(), want.to_owned())],
        "in {text:?}"
    );
}

#[track_caller]
fn none(text: &str) {
    assert_eq!(found(text), vec![], "in {text:?}");
}

fn custom(name: &str, pattern: &str) -> CustomPattern {
    CustomPattern {
        name: name.to_owned(),
        pattern: pattern.to_owned(),
    }
}

/// `cases` split at ` | `.
fn each(cases: &str) -> impl Iterator<Item = &str> {
    cases.split(" | ")
}

/// Each case, embedded in `context` at `{}`, is found whole as one `label` match.
#[track_caller]
fn all_found(label: &str, context: &str, cases: &str) {
    for case in each(cases) {
        one(label, &context.replace("{}", case), case);
    }
}

#[track_caller]
fn none_found(cases: &str) {
    each(cases).for_each(none);
}

fn counts_of(pairs: &[(&str, u64)]) -> PiiCounts {
    pairs.iter().map(|&(k, v)| (k.to_owned(), v)).collect()
}

#[test]
fn emails() {
    all_found(
        "email",
        "mail {}, now",
        "jane.doe+tag@example.co.uk | a_b-c%d@sub.mail-host.org | jörg.müller@example.de | \
         X.Y@EXAMPLE.COM",
    );
    one("email", "(jane@example.com).", "jane@example.com");
    none_found("user@localhost | a@b.c | @example.com | foo@bar | name@example.com2x | x@-bad.com");
}

#[test]
fn phones() {
    all_found(
        "phone",
        "call {} today",
        "+1 (555) 123-4567 | +44 20 7946 0958 | +49 30 12345678 | +49 (0)30 1234 5678 | \
         +33 1 23 45 67 89 | +81-3-1234-5678 | +15551234567 | (555) 123-4567 | 555-123-4567 | \
         555.123.4567 | 1-800-555-1234",
    );
    // A date right after a number does not make it longer than E.164 allows.
    one("phone", "+44 20 7946 0958 2024-01-15", "+44 20 7946 0958");
    none_found(
        "on 2024-01-15 at noon | 15.01.2024 | call 123-4567 | id 5551234567 | +12 34 | \
         order 1234-555-123-4567 | ref 555-123-4567-89 | x555-123-4567 | 123-456-7890 | \
         +12.345.678,00 EUR | version 1.2.3 | 2024-01-15T10:30:00",
    );
}

#[test]
fn ibans() {
    all_found(
        "iban",
        "IBAN: {}, thanks",
        "DE89370400440532013000 | DE89 3704 0044 0532 0130 00 | GB82 WEST 1234 5698 7654 32 | \
         FR1420041010050500013M02606 | NL91ABNA0417164300 | BE68 5390 0754 7034 | \
         CH9300762011623852957 | AT611904300234573201 | ES9121000418450200051332 | \
         IT60X0542811101000000123456 | NO93 8601 1117 947",
    );
    // A trailing word in capitals is not part of the IBAN.
    one("iban", "BE68 5390 0754 7034 CODE", "BE68 5390 0754 7034");
    // Bad checksum (compact, grouped), one short for DE, inside longer runs, not mod-97.
    none_found(
        "DE89370400440532013001 | DE89 3704 0044 0532 0130 01 | DE8937040044053201300 | \
         XDE89370400440532013000 | DE89370400440532013000ABC | AB12 CDEF GHIJ KLMN",
    );
}

#[test]
fn cards() {
    all_found(
        "card",
        "card {} exp 12/27",
        "4111111111111111 | 4111 1111 1111 1111 | 4111-1111-1111-1111 | 5555555555554444 | \
         2223003122003222 | 3782 822463 10005 | 378282246310005 | 6011111111111117 | \
         3530111333300000 | 4222222222222",
    );
    one("card", "4111 1111 1111 1111 12 pcs", "4111 1111 1111 1111");
    // Luhn fails (compact, grouped); Luhn-valid without a card prefix; mixed separators; not a
    // card grouping; glued to a word; part of a longer dashed number.
    none_found(
        "4111111111111112 | 4111 1111 1111 1112 | 1234567812345670 | order 1234 5678 1234 5670 | \
         4111-1111 1111-1111 | 41111 11111 11111 1 | A4111111111111111 | 4111111111111111_ | \
         12-4111-1111-1111-1111",
    );
}

#[test]
fn ssns() {
    one("ssn", "SSN 123-45-6789.", "123-45-6789");
    one("ssn", "SSN 123 45 6789", "123 45 6789");
    none_found(
        "000-12-3456 | 666-12-3456 | 900-12-3456 | 123-00-4567 | 123-45-0000 | 123-45 6789 | \
         1123-45-6789 | 123-45-67890 | 9-123-45-6789 | 12 123 45 6789",
    );
}

#[test]
fn ips() {
    all_found(
        "ip",
        "host {}: up.",
        "192.168.1.1 | 10.0.0.255 | 0.0.0.0 | 255.255.255.255 | 2001:db8::1 | \
         fe80::1ff:fe23:4567:890a | 2001:0db8:85a3:0000:0000:8a2e:0370:7334 | ::ffff:192.0.2.1",
    );
    one("ip", "at 10.0.0.1.", "10.0.0.1");
    one("ip", "net 10.0.0.0/8", "10.0.0.0");
    one("ip", "2001:db8::1: unreachable", "2001:db8::1");
    none_found(
        "256.1.1.1 | 01.2.3.4 | 1.2.3.4.5 | v1.2.3 | 1.2.3 | version 1.2.3.4a | at 12:30:45 | \
         use std::net::Ipv6Addr | a::b | x :: y | 00:1A:2B:3C:4D:5E",
    );
}

#[test]
fn ordinary_numbers_dates_and_versions_are_left_alone() {
    none(
        "Invoice 2024-0042 of 2024-01-15, order no. 100234567, total 1,234.56 EUR, \
         build 3.14.159, release v2.10.3, ISBN 978-3-16-148410-0, pi 3.14159265358979, \
         12345678901234567890, 15.01.2024 10:30:00, tel. ext 4567.",
    );
}

#[test]
fn overlaps_prefer_specific_detectors_then_earliest_then_longest() {
    // The phone candidate `+4111 1111 1111` starts earlier, but the card wins.
    one("card", "+4111 1111 1111 1111", "4111 1111 1111 1111");

    struct Fixed(&'static str, Vec<(usize, usize)>);
    impl PiiDetector for Fixed {
        fn label(&self) -> &str {
            self.0
        }
        fn find(&self, _: &str, out: &mut Vec<PiiMatch>) {
            out.extend(self.1.iter().map(|&(start, end)| PiiMatch {
                label: self.0.to_owned(),
                start,
                end,
            }));
        }
    }
    let s = scanner()
        .with_detector(Box::new(Fixed("a", vec![(0, 4), (10, 12), (20, 30)])))
        .with_detector(Box::new(Fixed(
            "b",
            vec![(2, 8), (10, 15), (22, 25), (5, 5)],
        )))
        .with_detector(Box::new(Fixed("c", vec![(40, 99), (1, 3)])));
    let text = "x".repeat(40);
    let got: Vec<(String, usize, usize)> = s
        .scan(&text)
        .into_iter()
        .map(|m| (m.label, m.start, m.end))
        .collect();
    // (0,4) beats (1,3) and (2,8) by start; (10,15) beats (10,12) by length; (22,25) is inside
    // (20,30); the empty and the out-of-bounds ranges are dropped.
    let want = [("a", 0, 4), ("b", 10, 15), ("a", 20, 30)];
    let want: Vec<(String, usize, usize)> =
        want.iter().map(|&(l, s, e)| (l.to_owned(), s, e)).collect();
    assert_eq!(got, want);
}

#[test]
fn matches_are_sorted_and_disjoint() {
    let text = "a@b.com 555-123-4567 4111111111111111 123-45-6789 10.0.0.1 DE89370400440532013000";
    let ms = scanner().scan(text);
    let labels: Vec<&str> = ms.iter().map(|m| m.label.as_str()).collect();
    assert_eq!(labels, ["email", "phone", "card", "ssn", "ip", "iban"]);
    assert!(ms.windows(2).all(|w| w[0].end <= w[1].start));
}

#[test]
fn redaction_and_counts() {
    let s = scanner();
    let mut counts = PiiCounts::new();
    assert_eq!(
        s.redact("mail jane@example.com now", &mut counts),
        "mail [EMAIL] now"
    );
    let out = s.redact(
        "a@b.io, c@d.io, 555-123-4567, card 4111 1111 1111 1111, nothing else",
        &mut counts,
    );
    assert_eq!(out, "[EMAIL], [EMAIL], [PHONE], card [CARD], nothing else");
    assert_eq!(
        counts,
        counts_of(&[("card", 1), ("email", 3), ("phone", 1)])
    );

    let mut counted = PiiCounts::new();
    s.count("a@b.io and 10.1.2.3 and 10.1.2.4", &mut counted);
    assert_eq!(counted.get("email"), Some(&1));
    assert_eq!(counted.get("ip"), Some(&2));
    assert_eq!(s.redact("no pii here", &mut counted), "no pii here");
    assert_eq!(counted.len(), 2);
}

#[test]
fn unicode_text_around_matches() {
    let text = "Grüße — schreib an jane@example.com ☺, Tel. +49 30 12345678 ✓ 東京 10.0.0.1。";
    let ms = scanner().scan(text);
    assert_eq!(ms.len(), 3);
    for m in &ms {
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
    }
    let mut counts = PiiCounts::new();
    assert_eq!(
        scanner().redact(text, &mut counts),
        "Grüße — schreib an [EMAIL] ☺, Tel. [PHONE] ✓ 東京 [IP]。"
    );
    // Glued to letters of any script: not a match.
    none("東京4111111111111111");
    none("é10.0.0.1");
}

#[test]
fn custom_patterns() {
    let s = PiiScanner::new(&[custom("employee_id", r"EMP-[0-9]{6}")]).expect("valid");
    let mut counts = PiiCounts::new();
    assert_eq!(
        s.redact("by EMP-123456 and EMP-654321", &mut counts),
        "by [EMPLOYEE_ID] and [EMPLOYEE_ID]"
    );
    assert_eq!(counts.get("employee_id"), Some(&2));
    // A custom pattern outranks the phone detector on overlap.
    let s = PiiScanner::new(&[custom("ticket", r"555-[0-9]{3}")]).expect("valid");
    let mut counts = PiiCounts::new();
    assert_eq!(
        s.redact("see 555-123-4567", &mut counts),
        "see [TICKET]-4567"
    );
    assert_eq!(counts.get("phone"), None);
}

#[test]
fn custom_pattern_errors() {
    let err = |c: CustomPattern| PiiScanner::new(&[c]).expect_err("an error");
    match err(custom("bad_regex", "(unclosed")) {
        PiiError::InvalidPattern { name, reason } => {
            assert_eq!(name, "bad_regex");
            assert!(!reason.is_empty());
        }
    }
    for (name, why) in [
        ("email", "built-in"),
        ("phone", "built-in"),
        ("", "1-32"),
        ("Upper", "a-z"),
        ("has-dash", "a-z"),
        ("has space", "a-z"),
        (&"x".repeat(33), "1-32"),
    ] {
        let e = err(custom(name, "x"));
        assert!(e.to_string().contains(why), "{name:?}: {e}");
        assert!(!e.is_retryable());
        assert!(matches!(&e, PiiError::InvalidPattern { name: n, .. } if n == name));
    }
    assert!(
        err(custom("empty", "a*"))
            .to_string()
            .contains("empty string")
    );
    // Too big to compile within the size limit.
    let huge = err(custom("huge", r"\w{1000}\w{1000}"));
    assert!(matches!(huge, PiiError::InvalidPattern { ref name, .. } if name == "huge"));
    let dup = PiiScanner::new(&[custom("a", "x"), custom("a", "y")]).expect_err("dup");
    assert!(dup.to_string().contains("another custom pattern"));
    assert!(PiiScanner::new(&[custom(&"x".repeat(32), "x")]).is_ok());
}

#[test]
fn custom_pattern_serde() {
    let c: CustomPattern =
        serde_json::from_str(r#"{"name":"emp","pattern":"E[0-9]+"}"#).expect("parses");
    assert_eq!(c, custom("emp", "E[0-9]+"));
    assert!(serde_json::from_str::<CustomPattern>(r#"{"name":"a","pattern":"b","x":1}"#).is_err());
    assert_eq!(
        serde_json::to_string(&PiiMode::Redact).expect("json"),
        r#""redact""#
    );
    let mode: PiiMode = serde_json::from_str(r#""detect""#).expect("parses");
    assert_eq!(mode, PiiMode::Detect);
    assert_eq!(PiiMode::default(), PiiMode::Off);
    for m in [PiiMode::Off, PiiMode::Detect, PiiMode::Redact] {
        assert_eq!(
            serde_json::to_string(&m).expect("json"),
            format!("\"{}\"", m.as_str())
        );
    }
}

#[test]
fn fingerprint_follows_the_detector_set() {
    let base = scanner().fingerprint();
    assert_eq!(base, scanner().fingerprint());
    assert_eq!(base.len(), 12);
    let a = PiiScanner::new(&[custom("emp", "E[0-9]+")])
        .expect("valid")
        .fingerprint();
    let b = PiiScanner::new(&[custom("emp", "E[0-9]{6}")])
        .expect("valid")
        .fingerprint();
    let c = PiiScanner::new(&[custom("staff", "E[0-9]+")])
        .expect("valid")
        .fingerprint();
    assert!(base != a && a != b && a != c && b != c);
    assert_eq!(
        a,
        PiiScanner::new(&[custom("emp", "E[0-9]+")])
            .expect("valid")
            .fingerprint()
    );
    struct Ner;
    impl PiiDetector for Ner {
        fn label(&self) -> &str {
            "person"
        }
        fn find(&self, _: &str, _: &mut Vec<PiiMatch>) {}
    }
    assert_ne!(scanner().with_detector(Box::new(Ner)).fingerprint(), base);
}

fn pages() -> Vec<Page> {
    vec![
        Page::new(1, "Contact jane@example.com or 555-123-4567."),
        Page::new(2, "Nothing personal, release 1.2.3 on 2024-01-15."),
        Page::new(3, "IBAN DE89 3704 0044 0532 0130 00, mail bob@example.org"),
    ]
}

#[test]
fn apply_to_pages_in_every_mode() {
    let s = scanner();

    let mut p = pages();
    assert!(apply_to_pages(&s, PiiMode::Off, &mut p).is_empty());
    assert_eq!(p, pages());

    let want = counts_of(&[("email", 2), ("iban", 1), ("phone", 1)]);
    let mut p = pages();
    assert_eq!(apply_to_pages(&s, PiiMode::Detect, &mut p), want);
    assert_eq!(p, pages());

    let mut p = pages();
    assert_eq!(apply_to_pages(&s, PiiMode::Redact, &mut p), want);
    let texts: Vec<&str> = p.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Contact [EMAIL] or [PHONE].",
            "Nothing personal, release 1.2.3 on 2024-01-15.",
            "IBAN [IBAN], mail [EMAIL]",
        ]
    );
    assert_eq!(p[0].number, 1);
    assert!(apply_to_pages(&s, PiiMode::Redact, &mut []).is_empty());
}

#[test]
fn long_runs_stay_fast_and_unmatched() {
    let s = scanner();
    for text in [
        "1".repeat(50_000),
        format!("{}@example.com_", "a".repeat(50_000)),
        "1:".repeat(25_000),
        "1.".repeat(25_000),
        "12-".repeat(17_000),
    ] {
        let start = std::time::Instant::now();
        assert!(s.scan(&text).is_empty());
        assert!(start.elapsed() < std::time::Duration::from_secs(10));
    }
}
