//! A real browser for the dashboard's tests: Debian's headless Chromium driven by
//! chromedriver over W3C WebDriver (plain HTTP and JSON, the tests' own client). Every
//! page gets a collector of console errors, uncaught exceptions, failed promises and
//! Content-Security-Policy violations before its own script runs (through the DevTools
//! command chromedriver relays), so a view that logs an error fails its test.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tessera_engine::http::request;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Installed before any page script: records what a user would see in the console.
const COLLECTOR: &str = r#"
window.__errors = [];
(function () {
  const push = (m) => window.__errors.push(String(m));
  const orig = console.error.bind(console);
  console.error = function (...a) { push('console.error: ' + a.join(' ')); orig(...a); };
  window.addEventListener('error', (e) => push('error: ' + (e.message || e.type) + ' at ' + (e.filename || '') + ':' + (e.lineno || '')));
  window.addEventListener('unhandledrejection', (e) => push('unhandled rejection: ' + (e.reason && e.reason.message || e.reason)));
  document.addEventListener('securitypolicyviolation', (e) => push('CSP: ' + e.violatedDirective + ' ' + e.blockedURI));
})();
"#;

/// Whether a browser is here: chromium and chromedriver. Under CI=true a missing one
/// fails the test; elsewhere the test says it skipped.
pub fn have_browser(test: &str) -> bool {
    let ok = Path::new(CHROMIUM).exists()
        && Command::new("chromedriver")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "{test}: no chromium and chromedriver under CI=true (apt-get install chromium chromium-driver)"
            );
        }
        eprintln!(
            "{test}: skipped, no chromium and chromedriver (apt-get install chromium chromium-driver)"
        );
    }
    ok
}

pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    profile: PathBuf,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl Browser {
    /// chromedriver on a free port and one headless session, 1366x900.
    pub fn start(dir: &Path) -> Browser {
        let port = super::free_port();
        let addr = format!("127.0.0.1:{port}");
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("chromedriver.log")).unwrap())
            .spawn()
            .expect("chromedriver");
        let until = Instant::now() + Duration::from_secs(20);
        while request(&addr, "GET", "/status", &[], None).is_err() {
            assert!(Instant::now() < until, "chromedriver did not come up");
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = dir.join("chromium-profile");
        let _ = std::fs::create_dir_all(&profile);
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1366,900",
                    format!("--user-data-dir={}", profile.display()),
                ],
            },
        }}});
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
            profile,
        };
        let v = b.raw("POST", "/session", Some(caps));
        b.session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        b.cmd(
            "POST",
            "goog/cdp/execute",
            json!({"cmd": "Page.addScriptToEvaluateOnNewDocument", "params": {"source": COLLECTOR}}),
        );
        b.cmd("POST", "window/rect", json!({"width": 1366, "height": 900}));
        b
    }

    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let text = body.map(|b| b.to_string());
        let r = request(&self.addr, method, path, &[], text.as_deref())
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let v: Value = serde_json::from_str(&r.body)
            .unwrap_or_else(|_| panic!("WebDriver {method} {path}: not JSON: {}", r.body));
        assert!(
            r.status == 200,
            "WebDriver {method} {path}: HTTP {}: {}",
            r.status,
            v["value"]["message"]
        );
        v
    }

    fn cmd(&self, method: &str, what: &str, body: Value) -> Value {
        let body = if method == "GET" { None } else { Some(body) };
        self.raw(method, &format!("/session/{}/{what}", self.session), body)["value"].clone()
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "url", json!({ "url": url }));
    }

    /// Runs `script` (a function body; `return` gives the value) in the page.
    pub fn eval(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "execute/sync",
            json!({"script": script, "args": []}),
        )
    }

    /// Polls `expr` (a JavaScript expression) until it is truthy; its value. `secs` is a
    /// liveness bound, not a speed check.
    pub fn wait_for(&self, what: &str, expr: &str, secs: u64) -> Value {
        let until = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.eval(&format!(
                "try {{ return ({expr}) || null; }} catch (e) {{ return null; }}"
            ));
            if !v.is_null() && v != json!(false) {
                return v;
            }
            assert!(
                Instant::now() < until,
                "{what}: not within {secs} s; page text: {}; errors: {:?}",
                self.eval("return document.getElementById('main').innerText")
                    .as_str()
                    .unwrap_or("")
                    .chars()
                    .take(1500)
                    .collect::<String>(),
                self.errors()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "element",
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    /// Clicks the element, as a user would (WebDriver's pointer, not a script).
    pub fn click(&self, css: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("element/{id}/click"), json!({}));
    }

    /// Clears the field and types `text` into it, key by key.
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.find(css);
        self.cmd("POST", &format!("element/{id}/clear"), json!({}));
        self.cmd(
            "POST",
            &format!("element/{id}/value"),
            json!({ "text": text }),
        );
    }

    /// Presses keys in order (WebDriver key actions: text, or `\u{E004}` for Tab,
    /// `\u{E007}` for Enter).
    pub fn keys(&self, keys: &str) {
        let acts: Vec<Value> = keys
            .chars()
            .flat_map(|k| {
                [
                    json!({"type": "keyDown", "value": k.to_string()}),
                    json!({"type": "keyUp", "value": k.to_string()}),
                ]
            })
            .collect();
        self.cmd(
            "POST",
            "actions",
            json!({"actions": [{"type": "key", "id": "keyboard", "actions": acts}]}),
        );
    }

    /// Sets the window's size.
    pub fn resize(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "window/rect",
            json!({"width": width, "height": height}),
        );
    }

    /// What keyboard and screen-reader users would miss on the page now: form fields
    /// without a label, buttons and links without a name, charts without a text
    /// alternative, and a page wider than the window.
    pub fn a11y_problems(&self) -> Vec<String> {
        let v = self.eval(
            "const bad = [];
             for (const e of document.querySelectorAll('input, select, textarea')) {
               if (e.type === 'hidden' || e.closest('[hidden]')) continue;
               const named = (e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
               if (!named) bad.push('no label: ' + e.outerHTML.slice(0, 90));
             }
             for (const e of document.querySelectorAll('button, a[href]')) {
               if (!e.textContent.trim() && !e.getAttribute('aria-label')) bad.push('no name: ' + e.outerHTML.slice(0, 90));
             }
             for (const e of document.querySelectorAll('svg.chart')) {
               if (!e.getAttribute('aria-label')) bad.push('chart without a text alternative');
             }
             const d = document.documentElement;
             if (d.scrollWidth > d.clientWidth + 1) bad.push('the page scrolls sideways: ' + d.scrollWidth + ' > ' + d.clientWidth);
             return bad;",
        );
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The page's console errors, uncaught exceptions and policy violations so far.
    pub fn errors(&self) -> Vec<String> {
        self.eval("return window.__errors || ['the error collector is missing']")
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|e| e.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Saves a PNG of the whole page (4000 pixels high at most) to `path`.
    pub fn screenshot(&self, path: &Path) {
        let size = self.eval(
            "return [document.documentElement.clientWidth, Math.ceil(document.documentElement.scrollHeight)]",
        );
        let w = size[0].as_u64().unwrap_or(1366);
        let h = size[1].as_u64().unwrap_or(900).min(4000);
        let v = self.cmd(
            "POST",
            "goog/cdp/execute",
            json!({"cmd": "Page.captureScreenshot", "params": {
                "format": "png", "captureBeyondViewport": true,
                "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}}),
        );
        let png = base64_decode(v["data"].as_str().expect("screenshot is base64"));
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = request(
                &self.addr,
                "DELETE",
                &format!("/session/{}", self.session),
                &[],
                None,
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Standard base64 (RFC 4648, with padding), as WebDriver's screenshots come.
pub fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => (c - b'A') as u32,
            b'a'..=b'z' => (c - b'a') as u32 + 26,
            b'0'..=b'9' => (c - b'0') as u32 + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        }
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= val(c) << (18 - 6 * i);
        }
        out.push((n >> 16) as u8);
        if chunk.len() > 2 {
            out.push((n >> 8) as u8);
        }
        if chunk.len() > 3 {
            out.push(n as u8);
        }
    }
    out
}

#[test]
fn base64_decodes_the_rfc_4648_vectors() {
    for (e, d) in [
        ("", ""),
        ("Zg==", "f"),
        ("Zm8=", "fo"),
        ("Zm9v", "foo"),
        ("Zm9vYg==", "foob"),
        ("Zm9vYmE=", "fooba"),
        ("Zm9vYmFy", "foobar"),
    ] {
        assert_eq!(base64_decode(e), d.as_bytes());
    }
}
