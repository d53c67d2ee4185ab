//! The web dashboard: one HTML page, its script and its style sheet, written by hand
//! (no build step, no framework) and embedded in the binary, so nothing is downloaded at
//! run time. The page reads and writes only through the HTTP API under `/api/v1`; its
//! token (for writes) stays in the browser tab's session storage.

use axum::Router;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const INDEX: &str = include_str!("../ui/index.html");
const APP_JS: &str = include_str!("../ui/app.js");
const APP_CSS: &str = include_str!("../ui/app.css");

/// Only the server's own script, style and images (charts are inline SVG built by the
/// script); no inline script, no other origin.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                   script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// `/` (the page) and `/ui/*` (its assets).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page loads its script and style from the paths the router serves, and has no
    /// inline script the policy would block.
    #[test]
    fn the_page_names_its_assets_and_has_no_inline_script() {
        assert!(INDEX.contains("src=\"/ui/app.js\""));
        assert!(INDEX.contains("href=\"/ui/app.css\""));
        assert_eq!(INDEX.matches("<script").count(), 1);
        assert!(!INDEX.contains(" style=\""));
        assert!(!INDEX.contains("onclick"));
    }

    /// The names between `const NAME = [` and `];` in the script.
    fn js_list(name: &str) -> Vec<String> {
        let start = APP_JS.find(&format!("const {name} = [")).unwrap() + name.len() + 10;
        let end = start + APP_JS[start..].find("];").unwrap();
        APP_JS[start..end]
            .split(',')
            .map(|x| x.trim().trim_matches('\'').to_string())
            .filter(|x| !x.is_empty())
            .collect()
    }

    /// The what-if form offers every policy the simulator replays LLM job files with
    /// (all but the packed one, which needs Gavel's pair throughputs), and the procure
    /// form every built-in scenario.
    #[test]
    fn the_forms_offer_the_servers_policies_and_scenarios() {
        let mut offered = js_list("POLICIES");
        offered.sort();
        let mut known: Vec<String> = tessera_sched::sim::Policy::NAMES
            .iter()
            .filter(|n| **n != "max-min-fairness-packed")
            .map(|n| n.to_string())
            .collect();
        known.sort();
        assert_eq!(offered, known);
        let scenarios: Vec<String> = tessera_catalog::scenarios::BUILTIN_SCENARIOS
            .iter()
            .map(|(id, _)| id.to_string())
            .collect();
        assert_eq!(js_list("SCENARIOS"), scenarios);
    }

    /// WCAG 2's contrast ratio of two `#rrggbb` colours.
    fn contrast(a: &str, b: &str) -> f64 {
        let lum = |h: &str| {
            let c = |i: usize| {
                let v = u8::from_str_radix(&h[i..i + 2], 16).unwrap_or(0) as f64 / 255.0;
                if v <= 0.03928 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * c(1) + 0.7152 * c(3) + 0.0722 * c(5)
        };
        let (x, y) = (lum(a), lum(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    /// The style sheet's text colours on its backgrounds meet WCAG AA (4.5:1).
    #[test]
    fn text_colours_meet_wcag_aa_contrast() {
        let var = |name: &str| {
            let at = APP_CSS.find(&format!("--{name}: #")).unwrap() + name.len() + 4;
            APP_CSS[at..at + 7].to_string()
        };
        for (fg, bg) in [
            ("fg", "bg"),
            ("fg", "panel"),
            ("muted", "bg"),
            ("muted", "panel"),
            ("accent", "bg"),
            ("ok", "bg"),
            ("bad", "bg"),
            ("warn", "bg"),
        ] {
            let r = contrast(&var(fg), &var(bg));
            assert!(r >= 4.5, "--{fg} on --{bg}: {r:.2}:1");
        }
        assert!((contrast("#000000", "#ffffff") - 21.0).abs() < 1e-9);
    }
}
