//! Request-length distributions for serving estimates: a CSV with the header
//! `input,output` or `input,output,weight`, one request class a line. Blank lines and
//! lines starting with `#` are skipped.

use crate::error::{CatalogError, Source};

/// Weighted (input, output, weight) samples. Errors name the file, line and column.
pub fn parse(path: &str, text: &str) -> Result<Vec<(f64, f64, f64)>, CatalogError> {
    let src = Source::new(path, text);
    let hint = || {
        Some("the file needs a header `input,output` or `input,output,weight` and one line per request class".to_string())
    };
    // Byte offset of each line's start, for error positions.
    let mut offsets = Vec::new();
    let mut off = 0;
    for l in text.split_inclusive('\n') {
        offsets.push(off);
        off += l.len();
    }
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((hn, header)) = lines.next() else {
        return Err(src.error_at(Some(0), Some("header".into()), "the file is empty", hint()));
    };
    let at = |n: usize| offsets.get(n).copied();
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols != ["input", "output"] && cols != ["input", "output", "weight"] {
        return Err(src.error_at(
            at(hn),
            Some("header".into()),
            format!(
                "expected `input,output[,weight]`, found `{}`",
                header.trim()
            ),
            hint(),
        ));
    }
    let mut samples = Vec::new();
    for (n, l) in lines {
        let parts: Vec<&str> = l.split(',').map(str::trim).collect();
        if parts.len() != cols.len() {
            return Err(src.error_at(
                at(n),
                Some("row".into()),
                format!("expected {} fields, found {}", cols.len(), parts.len()),
                hint(),
            ));
        }
        let mut vals = [1.0f64; 3];
        for (k, p) in parts.iter().enumerate() {
            let v: f64 = p.parse().map_err(|_| {
                src.error_at(
                    at(n),
                    Some(cols[k].into()),
                    format!("`{p}` is not a number"),
                    hint(),
                )
            })?;
            let ok = v.is_finite()
                && if k < 2 {
                    (1.0..=16_777_216.0).contains(&v)
                } else {
                    v >= 0.0
                };
            if !ok {
                return Err(src.error_at(
                    at(n),
                    Some(cols[k].into()),
                    format!("{p} is out of range (lengths are 1 to 16,777,216 tokens, weights not negative)"),
                    hint(),
                ));
            }
            vals[k] = v;
        }
        samples.push((vals[0], vals[1], vals[2]));
    }
    if samples.is_empty() {
        return Err(src.error_at(
            at(hn),
            Some("row".into()),
            "no request classes after the header",
            hint(),
        ));
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_weighted_rows() {
        let s = parse(
            "x.csv",
            "# comment\ninput,output,weight\n128,128,1\n\n1000,500,2\n",
        )
        .unwrap();
        assert_eq!(s, vec![(128.0, 128.0, 1.0), (1000.0, 500.0, 2.0)]);
        assert_eq!(
            parse("x.csv", "input,output\n10,20\n").unwrap(),
            vec![(10.0, 20.0, 1.0)]
        );
        let e = parse("x.csv", "input,output\n10,-1\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("x.csv:2:1: field `output`"), "{e}");
        assert!(parse("x.csv", "in,out\n").is_err());
        assert!(parse("x.csv", "input,output\n").is_err());
    }
}
