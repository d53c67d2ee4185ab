//! Minimal SVG line charts for simulation results (no dependency needed).

use std::fmt::Write;

const W: f64 = 720.0;
const H: f64 = 400.0;
const L: f64 = 70.0; // left margin
const B: f64 = 50.0; // bottom margin
const T: f64 = 30.0; // top margin
const R: f64 = 150.0; // right margin, for the legend
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

/// One named series of (x, y) points, drawn as a polyline.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A line chart with axes from 0 to the data's maxima (y fixed to `y_max` if given).
pub fn line_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series],
    y_max: Option<f64>,
) -> String {
    let xmax = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let ymax = y_max.unwrap_or_else(|| {
        series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(0.0f64, f64::max)
            .max(1e-9)
    });
    let (pw, ph) = (W - L - R, H - T - B);
    let sx = |x: f64| L + x / xmax * pw;
    let sy = |y: f64| T + ph - (y / ymax).clamp(0.0, 1.0) * ph;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(o, r#"<rect width="{W}" height="{H}" fill="white"/>"#);
    let _ = write!(
        o,
        r#"<text x="{}" y="18" font-size="14">{}</text>"#,
        L,
        esc(title)
    );
    // Axes and ticks.
    let _ = write!(
        o,
        r#"<path d="M{L},{T} V{} H{}" stroke="black" fill="none"/>"#,
        T + ph,
        L + pw
    );
    for i in 0..=4 {
        let f = i as f64 / 4.0;
        let (x, y) = (L + f * pw, T + ph - f * ph);
        let _ = write!(
            o,
            r##"<text x="{x}" y="{}" text-anchor="middle">{:.3}</text><text x="{}" y="{}" text-anchor="end">{:.3}</text><path d="M{L},{y} H{}" stroke="#ddd"/>"##,
            T + ph + 16.0,
            f * xmax,
            L - 6.0,
            y + 4.0,
            f * ymax,
            L + pw
        );
    }
    let _ = write!(
        o,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        L + pw / 2.0,
        H - 12.0,
        esc(x_label)
    );
    let _ = write!(
        o,
        r#"<text x="16" y="{}" transform="rotate(-90 16 {})" text-anchor="middle">{}</text>"#,
        T + ph / 2.0,
        T + ph / 2.0,
        esc(y_label)
    );
    for (k, s) in series.iter().enumerate() {
        let c = COLORS[k % COLORS.len()];
        let pts: Vec<String> = s
            .points
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", sx(x), sy(y)))
            .collect();
        let _ = write!(
            o,
            r#"<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{}"/>"#,
            pts.join(" ")
        );
        let ly = T + 14.0 + 18.0 * k as f64;
        let _ = write!(
            o,
            r#"<path d="M{},{ly} h20" stroke="{c}" stroke-width="3"/><text x="{}" y="{}">{}</text>"#,
            L + pw + 12.0,
            L + pw + 38.0,
            ly + 4.0,
            esc(s.name)
        );
    }
    o.push_str("</svg>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_is_well_formed() {
        let s = line_chart(
            "t <1>",
            "x",
            "y",
            &[Series {
                name: "a&b",
                points: vec![(0.0, 0.0), (1.0, 2.0)],
            }],
            None,
        );
        assert!(s.starts_with("<svg") && s.ends_with("</svg>\n"));
        assert!(s.contains("t &lt;1&gt;") && s.contains("a&amp;b"));
        assert_eq!(s.matches("<polyline").count(), 1);
    }
}
