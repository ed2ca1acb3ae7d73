//! Character error rate, the usual OCR accuracy measure.

/// Levenshtein distance over characters, after collapsing every whitespace run to one space
/// and trimming both texts, divided by the reference's length (0.0 = perfect; can exceed 1.0
/// when the hypothesis is much longer). An empty reference gives 0.0 for an empty hypothesis
/// and 1.0 otherwise.
pub fn char_error_rate(reference: &str, hypothesis: &str) -> f64 {
    let r = normalise(reference);
    let h = normalise(hypothesis);
    if r.is_empty() {
        return if h.is_empty() { 0.0 } else { 1.0 };
    }
    levenshtein(&r, &h) as f64 / r.len() as f64
}

fn normalise(s: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(s.len());
    for word in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars());
    }
    out
}

/// Two-row dynamic programme: O(|a|·|b|) time, O(|b|) memory.
fn levenshtein(a: &[char], b: &[char]) -> usize {
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cer() {
        assert_eq!(char_error_rate("hello world", "hello world"), 0.0);
        assert_eq!(char_error_rate(" hello\n\n  world ", "hello world"), 0.0);
        assert_eq!(char_error_rate("abcd", "abed"), 0.25);
        assert_eq!(char_error_rate("abcd", ""), 1.0);
        assert_eq!(char_error_rate("", ""), 0.0);
        assert_eq!(char_error_rate("", "x"), 1.0);
        assert_eq!(char_error_rate("kitten", "sitting"), 3.0 / 6.0);
        assert_eq!(char_error_rate("naïve", "naive"), 0.2);
    }
}
