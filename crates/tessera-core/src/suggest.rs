//! Nearest-name suggestions for unknown ids and fields.

/// Levenshtein edit distance over chars.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j + 1] + 1).min(cur[j] + 1).min(prev[j] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Up to `n` candidates closest to `name`: substring matches first, then by edit
/// distance. Only reasonably close candidates are returned.
pub fn nearest<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    n: usize,
) -> Vec<String> {
    let lname = name.to_ascii_lowercase();
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .filter_map(|c| {
            let lc = c.to_ascii_lowercase();
            let d = if !lname.is_empty() && (lc.contains(&lname) || lname.contains(&lc)) {
                0
            } else {
                // A mistyped prefix of a long id ("nvidia-a8000" for
                // "nvidia-a800-sxm4-80gb") is close too.
                let prefix: String = lc.chars().take(lname.chars().count()).collect();
                edit_distance(&lname, &lc).min(edit_distance(&lname, &prefix) + 1)
            };
            let limit = (lname.len().max(lc.len()) / 2).max(2);
            (d <= limit).then_some((d, c))
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(b.1)));
    scored
        .into_iter()
        .take(n)
        .map(|(_, c)| c.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("abc", "abc"), 0);
    }

    #[test]
    fn nearest_prefers_substrings() {
        let c = [
            "nvidia-h100-sxm5-80gb",
            "nvidia-h800-sxm5-80gb",
            "nvidia-h20",
            "huawei-ascend-910b2",
        ];
        let got = nearest("h100", c, 3);
        assert_eq!(got[0], "nvidia-h100-sxm5-80gb");
        let got = nearest("huawei-ascend-910b", c, 3);
        assert_eq!(got, vec!["huawei-ascend-910b2".to_string()]);
        assert!(nearest("zzzzzzzzzz", c, 3).is_empty());
        assert_eq!(
            nearest("nvidia-h1000", c, 1),
            vec!["nvidia-h100-sxm5-80gb".to_string()]
        );
    }
}
