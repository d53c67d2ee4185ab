//! The dashboard in a real browser (headless Chromium through chromedriver) against
//! `tessera server` on the Slurm of tools/slurm-local: every view loads with no console
//! error; a job submitted through the form reaches RUNNING and then SUCCEEDED; one is
//! cancelled from its page; a plan is run and its top layout read (and checked against
//! the API's answer); charts render and show their numbers on hover. A screenshot of
//! each view goes to `target/dashboard-screenshots/` (or `$TESSERA_SCREENSHOTS`), CI's
//! artifacts. Without Slurm or a browser the test says it skipped; under CI=true it fails.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

mod common;
use common::browser::{Browser, have_browser};
use common::*;

fn shots() -> PathBuf {
    match std::env::var_os("TESSERA_SCREENSHOTS") {
        Some(d) => PathBuf::from(d),
        None => {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/dashboard-screenshots")
        }
    }
}

/// No console error, exception or policy violation on the page so far, and nothing a
/// keyboard or screen-reader user would miss.
fn clean(b: &Browser, view: &str) {
    let e = b.errors();
    assert!(e.is_empty(), "{view}: the page logged errors: {e:?}");
    let a = b.a11y_problems();
    assert!(a.is_empty(), "{view}: {a:?}");
}

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

fn shot(b: &Browser, name: &str) {
    let p = shots().join(format!("{name}.png"));
    b.screenshot(&p);
    eprintln!("screenshot: {}", p.display());
}

#[test]
fn the_dashboard_works_in_a_real_browser() {
    let test = "the_dashboard_works_in_a_real_browser";
    if !have_slurm(test) || !have_browser(test) {
        return;
    }
    let _g = serial();
    let s = Server::new("dashboard", "max-min-fairness-perf");
    let b = Browser::start(&s.dir);
    let base = format!("http://{}/", s.addr);

    // Fleet: a card per pool, the export table, the utilization chart with numbers on
    // hover and in its table.
    b.goto(&format!("{base}#/fleet"));
    b.wait_for(
        "three pool cards",
        "document.querySelectorAll('.card').length === 3",
        30,
    );
    // The keyboard: the first Tab reaches the skip link, Enter moves focus to the view;
    // the nav's links follow the skip link, and Enter on one opens its view.
    b.keys(TAB);
    assert_eq!(b.eval("return document.activeElement.className"), "skip");
    b.keys(ENTER);
    assert_eq!(b.eval("return document.activeElement.id"), "main");
    assert_eq!(b.eval("return location.hash"), "#/fleet");
    b.eval("location.reload(); return 1;");
    b.wait_for(
        "the fleet, reloaded",
        "document.querySelectorAll('.card').length === 3",
        30,
    );
    b.keys(&format!("{TAB}{TAB}{TAB}"));
    assert_eq!(b.eval("return document.activeElement.textContent"), "Jobs");
    b.keys(ENTER);
    b.wait_for(
        "the jobs view by keyboard",
        "location.hash === '#/jobs' && document.getElementById('submit-form')",
        20,
    );
    b.goto(&format!("{base}#/fleet"));
    b.wait_for(
        "the fleet again",
        "document.querySelectorAll('.card').length === 3",
        30,
    );
    b.wait_for(
        "the export table lists the fleet's chips",
        "[...document.querySelectorAll('table')].some(t => t.innerText.includes('Huawei') || t.innerText.includes('huawei'))",
        30,
    );
    b.wait_for(
        "a utilization sample",
        "document.querySelector('svg.chart path.line')",
        30,
    );
    let tip = b.eval(
        "const o = document.querySelector('svg.chart .overlay'); const r = o.getBoundingClientRect();
         o.dispatchEvent(new MouseEvent('mousemove', {clientX: r.left + r.width / 2, clientY: r.top + r.height / 2, bubbles: true}));
         return document.querySelector('.tip').textContent;",
    );
    let tip = tip.as_str().unwrap();
    assert!(tip.contains('%'), "hover shows no number: {tip:?}");
    b.click("figure button.link");
    b.wait_for(
        "the chart's table",
        "[...document.querySelectorAll('figure table')].some(t => t.offsetParent !== null && t.querySelectorAll('tbody tr').length > 0)",
        10,
    );
    clean(&b, "fleet");

    // Read-only without a token: the submit button is disabled.
    b.goto(&format!("{base}#/jobs"));
    b.wait_for(
        "the submit form",
        "document.getElementById('submit-form')",
        30,
    );
    assert_eq!(
        b.eval("return document.querySelector('#submit-form button[type=submit]').disabled"),
        true
    );
    // With the token.
    b.type_into("#token", TOKEN);
    b.click("#token-save");
    b.wait_for(
        "the form is enabled",
        "!document.querySelector('#submit-form button[type=submit]').disabled",
        20,
    );

    // Validation: the browser's own check (0 chips), then the server's (a sequence
    // longer than the model's positions), each message shown and its field marked.
    b.type_into("#submit-form [name='resources.chips']", "0");
    b.click("#submit-form button[type=submit]");
    b.wait_for(
        "the chips field is marked",
        "document.querySelector(\"#submit-form [name='resources.chips']\").getAttribute('aria-invalid') === 'true' && document.querySelector('#submit-form .error')",
        10,
    );
    b.eval("const k = document.querySelector('#submit-form [name=kind]'); k.value = 'train'; k.dispatchEvent(new Event('change')); return 1;");
    b.type_into("#submit-form [name='seq-len']", "99999999");
    b.click("#submit-form button[type=submit]");
    let msg = b.wait_for(
        "the server's message on seq-len",
        "document.querySelector(\"#submit-form [name='seq-len']\").getAttribute('aria-invalid') === 'true' && document.querySelector('#submit-form .error').innerText",
        20,
    );
    assert!(msg.as_str().unwrap().contains("422"), "{msg}");
    clean(&b, "jobs form");

    // A batch job through the form: RUNNING, then SUCCEEDED, on its page.
    b.eval("const k = document.querySelector('#submit-form [name=kind]'); k.value = 'batch'; k.dispatchEvent(new Event('change')); return 1;");
    b.type_into("#submit-form [name=name]", "from-the-browser");
    b.type_into(
        "#submit-form [name=command]",
        "echo hello from the dashboard; sleep 4",
    );
    b.type_into("#submit-form [name='resources.chips']", "2");
    b.click("#submit-form button[type=submit]");
    let hash = b.wait_for(
        "the job's page",
        "/^#\\/jobs\\/\\d+$/.test(location.hash) && location.hash",
        20,
    );
    let id: u64 = hash
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    b.wait_for(
        "RUNNING on its page",
        "['running', 'succeeded'].includes(document.getElementById('job-state')?.dataset.state) && document.getElementById('job-state').dataset.state",
        90,
    );
    b.wait_for(
        "SUCCEEDED on its page",
        "document.getElementById('job-state')?.dataset.state === 'succeeded'",
        120,
    );
    assert_eq!(s.job(id)["state"], "succeeded");
    assert_eq!(s.job(id)["name"], "from-the-browser");
    b.wait_for(
        "the placement chart",
        "document.querySelector('svg.chart rect.bar')",
        10,
    );
    clean(&b, "job page");

    // A training job's page: its predicted speed per pool, the layout and launch it ran
    // with, and a copy button for the launch.
    let train = s.submit(
        &serde_json::json!({"kind": "train", "name": "llama2-7b on ascend", "model": "llama2-7b",
            "steps": 20, "global-batch": 64, "resources": {"chips": 8, "chip-types": ["910b2"]},
            "entrypoint": "echo {framework} {launch}; sleep 2"})
        .to_string(),
    );
    b.goto(&format!("{base}#/jobs/{train}"));
    b.wait_for(
        "SUCCEEDED with its launch",
        "document.getElementById('job-state')?.dataset.state === 'succeeded' && document.querySelector('.code pre')",
        120,
    );
    let predicted = b.eval("return document.getElementById('predicted').innerText");
    assert!(
        predicted
            .as_str()
            .unwrap()
            .contains("ascend (huawei-ascend-910b2): "),
        "{predicted}"
    );
    let args = b.eval("return document.querySelector('.code pre').innerText");
    assert!(
        args.as_str()
            .unwrap()
            .contains("--tensor-model-parallel-size"),
        "{args}"
    );
    assert!(
        b.eval("return document.querySelector('.code button.copy').innerText")
            .as_str()
            .unwrap()
            .starts_with("Copy")
    );
    clean(&b, "training job page");
    shot(&b, "job");

    // Cancel from its page.
    let long = s.submit(
        &serde_json::json!({"kind": "batch", "name": "to-cancel", "command": "sleep 300",
            "resources": {"chips": 1, "chip-types": ["kunlunxin-p800"]}})
        .to_string(),
    );
    b.goto(&format!("{base}#/jobs/{long}"));
    b.wait_for(
        "the long job runs",
        "document.getElementById('job-state')?.dataset.state === 'running'",
        90,
    );
    b.click("#cancel");
    b.wait_for(
        "CANCELLED on its page",
        "document.getElementById('job-state')?.dataset.state === 'cancelled'",
        90,
    );
    clean(&b, "cancel");

    // A serving job's page: its replicas, scaled from 1 to 2 with the page's form, then
    // cancelled (every replica with it).
    let serve = s.submit(
        &serde_json::json!({"kind": "serve", "name": "chat", "model": "llama3-8b", "rate": 2,
            "input-len": 1000, "output-len": 200, "replicas": 1, "chip-types": ["a800"],
            "entrypoint": "echo {launch}; sleep 300"})
        .to_string(),
    );
    b.goto(&format!("{base}#/jobs/{serve}"));
    b.wait_for(
        "one replica running",
        "[...document.querySelectorAll('main table tbody tr')].filter(r => r.innerText.includes('running')).length >= 1 && document.querySelector('[name=replicas]')",
        90,
    );
    b.type_into("[name=replicas]", "2");
    b.click("#scale-form button[type=submit]");
    b.wait_for(
        "two replicas on the page",
        "(() => { const h = [...document.querySelectorAll('main h2')].find(x => x.innerText === 'Replicas'); const t = h && h.parentElement.querySelector('table'); return t && t.querySelectorAll('tbody tr').length === 2; })()",
        90,
    );
    assert_eq!(s.job(serve)["spec"]["replicas"], 2);
    b.click("#cancel");
    assert_eq!(s.wait_final(serve)["state"], "cancelled");
    clean(&b, "serving job page");

    // The list, filtered by state.
    b.goto(&format!("{base}#/jobs?state=succeeded"));
    b.wait_for(
        "the succeeded job in the filtered list",
        "[...document.querySelectorAll('main table tbody tr')].some(r => r.innerText.includes('from-the-browser')) && ![...document.querySelectorAll('main table tbody tr')].some(r => r.innerText.includes('to-cancel'))",
        20,
    );
    clean(&b, "jobs");
    shot(&b, "jobs");

    // Plan: the top layout on the page is the API's.
    b.goto(&format!("{base}#/plan"));
    b.wait_for(
        "the plan form",
        "document.getElementById('plan-train-form')",
        20,
    );
    b.click("#plan-train-form button[type=submit]");
    let top = b.wait_for(
        "the top layout",
        "document.querySelector('#plan-result table .layout')?.innerText",
        60,
    );
    let (code, api) = s.call(
        "POST",
        "/api/v1/plan/train",
        None,
        Some(r#"{"model": "llama2-7b", "seq-len": 4096, "precision": "bf16", "objective": "time", "top": 5}"#),
    );
    assert_eq!(code, 200, "{api}");
    let l = &api["plans"][0]["layout"];
    let want = format!("tp{} pp{} dp{}", l["tp"], l["pp"], l["dp"]);
    let top = top.as_str().unwrap();
    assert!(
        top.starts_with(&want),
        "page's top layout {top:?}, the API's {want}"
    );
    assert!(
        b.eval("return document.querySelector('#plan-result .code pre').innerText")
            .as_str()
            .unwrap()
            .contains("--"),
        "no launch arguments"
    );
    clean(&b, "plan");
    shot(&b, "plan");
    // The same from a pasted config.json: the same top layout.
    let hf = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/hf/llama3-8b/config.json"),
    )
    .unwrap();
    let (_, cat) = s.call(
        "POST",
        "/api/v1/plan/train",
        None,
        Some(r#"{"model": "llama3-8b", "seq-len": 4096, "precision": "bf16", "objective": "time", "top": 5}"#),
    );
    let l = &cat["plans"][0]["layout"];
    let want = format!("tp{} pp{} dp{}", l["tp"], l["pp"], l["dp"]);
    b.eval(&format!(
        "const s = document.querySelector('#plan-train-form [name=source]'); s.value = 'hf'; s.dispatchEvent(new Event('change'));
         document.querySelector('#plan-train-form [name=\"hf-config\"]').value = {}; return 1;",
        serde_json::to_string(&hf).unwrap()
    ));
    b.eval("document.getElementById('plan-result').textContent = ''; return 1;");
    b.click("#plan-train-form button[type=submit]");
    let top = b.wait_for(
        "the top layout from the pasted config",
        "document.querySelector('#plan-result table .layout')?.innerText",
        60,
    );
    assert!(top.as_str().unwrap().starts_with(&want), "{top} vs {want}");
    clean(&b, "plan from a config.json");
    b.click("[data-tab=serve]");
    b.click("#plan-serve-form button[type=submit]");
    b.wait_for(
        "a serving plan",
        "document.querySelectorAll('#serve-result table tbody tr').length > 0 && document.querySelector('#serve-result h2')",
        60,
    );
    clean(&b, "plan serve");

    // What-if: two policies compared, their charts drawn.
    b.goto(&format!("{base}#/whatif"));
    b.wait_for(
        "the what-if form",
        "document.getElementById('whatif-form')",
        20,
    );
    b.type_into(
        "#whatif-form [name=cluster]",
        "huawei-ascend-910b2=16,nvidia-a800-sxm4-80gb=16",
    );
    b.click("#whatif-form button[type=submit]");
    b.wait_for(
        "the JCT and utilization charts",
        "document.querySelectorAll('#whatif-result svg.chart').length >= 3",
        120,
    );
    let rows = b.eval(
        "return document.querySelectorAll('#whatif-result table')[0].querySelectorAll('tbody tr').length",
    );
    assert!(rows.as_u64().unwrap() >= 2, "{rows}");
    clean(&b, "what-if");
    shot(&b, "whatif");
    // The same view with a Gavel trace (Gavel's built-in throughput table).
    b.eval("const k = document.querySelector('#whatif-form [name=input]'); k.value = 'trace'; k.dispatchEvent(new Event('change')); document.getElementById('whatif-result').textContent = ''; return 1;");
    b.click("#whatif-form button[type=submit]");
    b.wait_for(
        "a Gavel trace's replays",
        "document.querySelector('#whatif-result h2')?.innerText.includes('v100=4') && document.querySelectorAll('#whatif-result svg.chart').length >= 3",
        60,
    );
    clean(&b, "what-if, Gavel trace");

    // Procure: the built-in scenario over the live pools.
    b.goto(&format!("{base}#/procure"));
    b.wait_for(
        "the procure form",
        "document.getElementById('procure-form')",
        20,
    );
    b.click("#procure-form button[type=submit]");
    b.wait_for(
        "a purchase and its cost",
        "document.getElementById('capital-cost')?.innerText",
        120,
    );
    b.wait_for(
        "the binding constraints",
        "[...document.querySelectorAll('#procure-result h3')].some(h => h.innerText === 'Binding constraints')",
        5,
    );
    clean(&b, "procure");
    shot(&b, "procure");

    // The fleet with a job on every Ascend chip: its card and its chart say so.
    let busy = s.submit(
        &serde_json::json!({"kind": "batch", "name": "fills-ascend", "command": "sleep 120",
            "resources": {"chips": 8, "chip-types": ["huawei-ascend-910b2"]}})
        .to_string(),
    );
    b.goto(&format!("{base}#/fleet"));
    b.wait_for(
        "the Ascend card shows 8 of 8 busy",
        "document.querySelector('[data-pool=ascend] .busy')?.innerText === '8 of 8'",
        90,
    );
    b.wait_for(
        "a 100% sample in the chart's numbers",
        "[...document.querySelectorAll('figure table tbody tr')].some(r => r.textContent.includes('ascend') && r.textContent.includes('100%'))",
        60,
    );
    clean(&b, "fleet, busy");
    shot(&b, "fleet");
    let (code, _) = s.call("DELETE", &format!("/api/v1/jobs/{busy}"), Some(TOKEN), None);
    assert_eq!(code, 202);
    // Gone from Slurm before the server stops (a later test finds the pool free).
    assert_eq!(s.wait_final(busy)["state"], "cancelled");

    // A laptop's screen and a wide monitor: every view fits its width.
    for (w, h) in [(1024, 768), (1920, 1080)] {
        b.resize(w, h);
        for view in [
            "fleet",
            "jobs",
            &format!("jobs/{id}"),
            "plan",
            "whatif",
            "procure",
        ] {
            b.goto(&format!("{base}#/{view}"));
            b.wait_for(
                &format!("{view} at {w}x{h}"),
                "document.querySelector('main h1') && !document.querySelector('main h1').innerText.includes('Loading')",
                30,
            );
            clean(&b, &format!("{view} at {w}x{h}"));
        }
    }
}
