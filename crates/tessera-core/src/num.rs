//! Numbers written for people: enough significant digits, thousands grouped, no
//! trailing noise. Used by the notes and recommendations the planners write, and by
//! the CLI's tables, so both say a number the same way.

/// A number for people: enough significant digits, no trailing noise.
pub fn num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 1000.0 {
        group(v.round() as i64)
    } else if a >= 100.0 {
        trim(format!("{v:.1}"))
    } else if a >= 10.0 {
        trim(format!("{v:.2}"))
    } else if a >= 1.0 {
        trim(format!("{v:.3}"))
    } else {
        trim(format!("{v:.4}"))
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn group(n: i64) -> String {
    let s = n.abs().to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

#[cfg(test)]
mod tests {
    use super::num;

    #[test]
    fn significant_digits_by_magnitude() {
        assert_eq!(num(0.0), "0");
        assert_eq!(num(1_234_567.4), "1,234,567");
        assert_eq!(num(-2500.0), "-2,500");
        assert_eq!(num(123.45), "123.5");
        assert_eq!(num(12.0), "12");
        assert_eq!(num(1.2346), "1.235");
        assert_eq!(num(0.012345), "0.0123");
    }
}
