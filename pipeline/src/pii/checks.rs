//! Validity checks that turn a regex candidate into a match: Luhn and card IIN prefixes, IBAN
//! mod-97 (ISO 13616) with country lengths, SSN area/group/serial rules, IPv4 octets.
//!
//! Every function takes the candidate's characters only and never reports them anywhere.

/// Luhn (mod 10) check over ASCII digits; `false` for anything that is not all digits.
pub(super) fn luhn_valid(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let v = u32::from(d - b'0');
            if i % 2 == 1 {
                let v = v * 2;
                if v > 9 { v - 9 } else { v }
            } else {
                v
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// The number formed by the first `n` digits (`n` ≤ the length, at most 9).
fn prefix(digits: &[u8], n: usize) -> u32 {
    digits
        .iter()
        .take(n)
        .fold(0, |acc, d| acc * 10 + u32::from(d - b'0'))
}

/// Whether `digits` starts with a known issuer (IIN) prefix and has a length that issuer uses.
/// A Luhn-valid number without such a prefix is not treated as a card.
pub(super) fn card_issuer_known(digits: &[u8]) -> bool {
    let len = digits.len();
    if !(12..=19).contains(&len) || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let (p1, p2, p3, p4) = (
        prefix(digits, 1),
        prefix(digits, 2),
        prefix(digits, 3),
        prefix(digits, 4),
    );
    let long = (16..=19).contains(&len);
    // Visa
    (p1 == 4 && matches!(len, 13 | 16 | 19))
        // Mastercard (51-55 and the 2-series)
        || (((51..=55).contains(&p2) || (2221..=2720).contains(&p4)) && len == 16)
        // American Express
        || ((p2 == 34 || p2 == 37) && len == 15)
        // Discover
        || ((p4 == 6011 || (644..=649).contains(&p3) || p2 == 65) && long)
        // Diners Club
        || (((300..=305).contains(&p3) || p2 == 36 || p2 == 38 || p2 == 39) && (14..=19).contains(&len))
        // JCB
        || ((3528..=3589).contains(&p4) && long)
        // UnionPay
        || (p2 == 62 && long)
        // Maestro
        || ((p2 == 50 || (56..=58).contains(&p2) || matches!(p4, 6304 | 6759 | 6761..=6763))
            && (12..=19).contains(&len))
        // Mir
        || ((2200..=2204).contains(&p4) && len == 16)
}

/// IBAN lengths by country (SWIFT IBAN registry).
#[rustfmt::skip]
const IBAN_LENGTHS: &[(&str, usize)] = &[
    ("AD", 24), ("AE", 23), ("AL", 28), ("AT", 20), ("AZ", 28), ("BA", 20), ("BE", 16),
    ("BG", 22), ("BH", 22), ("BR", 29), ("BY", 28), ("CH", 21), ("CR", 22), ("CY", 28),
    ("CZ", 24), ("DE", 22), ("DK", 18), ("DO", 28), ("EE", 20), ("EG", 29), ("ES", 24),
    ("FI", 18), ("FO", 18), ("FR", 27), ("GB", 22), ("GE", 22), ("GI", 23), ("GL", 18),
    ("GR", 27), ("GT", 28), ("HR", 21), ("HU", 28), ("IE", 22), ("IL", 23), ("IQ", 23),
    ("IS", 26), ("IT", 27), ("JO", 30), ("KW", 30), ("KZ", 20), ("LB", 28), ("LC", 32),
    ("LI", 21), ("LT", 20), ("LU", 20), ("LV", 21), ("MC", 27), ("MD", 24), ("ME", 22),
    ("MK", 19), ("MR", 27), ("MT", 31), ("MU", 30), ("NL", 18), ("NO", 15), ("PK", 24),
    ("PL", 28), ("PS", 29), ("PT", 25), ("QA", 29), ("RO", 24), ("RS", 22), ("SA", 24),
    ("SC", 31), ("SE", 24), ("SI", 19), ("SK", 24), ("SM", 27), ("ST", 25), ("SV", 28),
    ("TL", 23), ("TN", 24), ("TR", 26), ("UA", 29), ("VA", 22), ("VG", 24), ("XK", 20),
];

/// A compact IBAN (no spaces, upper case): country letters, check digits 02-98, the country's
/// length (15-34 for countries not in the table) and mod-97 == 1 (ISO 13616).
pub(super) fn iban_valid(iban: &[u8]) -> bool {
    let len = iban.len();
    if !(15..=34).contains(&len)
        || !iban[..2].iter().all(u8::is_ascii_uppercase)
        || !iban[2..4].iter().all(u8::is_ascii_digit)
        || !iban[4..]
            .iter()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
    {
        return false;
    }
    let check = prefix(&iban[2..4], 2);
    if !(2..=98).contains(&check) {
        return false;
    }
    let country = &iban[..2];
    if let Some(&(_, want)) = IBAN_LENGTHS
        .iter()
        .find(|(code, _)| code.as_bytes() == country)
        && want != len
    {
        return false;
    }
    let rem = iban[4..].iter().chain(&iban[..4]).fold(0u32, |rem, &c| {
        if c.is_ascii_digit() {
            (rem * 10 + u32::from(c - b'0')) % 97
        } else {
            (rem * 100 + u32::from(c - b'A') + 10) % 97
        }
    });
    rem == 1
}

/// US SSN rules: area not 000, 666 or 900-999; group not 00; serial not 0000.
pub(super) fn ssn_valid(area: u32, group: u32, serial: u32) -> bool {
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0
}

/// Parses `AAA?GG?SSSS` (ASCII digits at fixed places, any separators) and applies [`ssn_valid`].
pub(super) fn ssn_str_valid(s: &[u8]) -> bool {
    if s.len() != 11 {
        return false;
    }
    let part = |r: std::ops::Range<usize>| {
        let d = &s[r];
        d.iter().all(u8::is_ascii_digit).then(|| prefix(d, d.len()))
    };
    match (part(0..3), part(4..6), part(7..11)) {
        (Some(a), Some(g), Some(n)) => ssn_valid(a, g, n),
        _ => false,
    }
}

/// Dotted quad: four octets 0-255, no leading zeros (`0` alone is fine).
pub(super) fn ipv4_valid(s: &str) -> bool {
    let mut parts = 0;
    for octet in s.split('.') {
        parts += 1;
        let b = octet.as_bytes();
        if b.is_empty()
            || b.len() > 3
            || !b.iter().all(u8::is_ascii_digit)
            || (b.len() > 1 && b[0] == b'0')
            || prefix(b, b.len()) > 255
        {
            return false;
        }
    }
    parts == 4
}
