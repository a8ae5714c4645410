//! `thingbench generate` and `run --report`: the generated suite passes against the embedded hub
//! with every point of every sample model covered; the report is one self-contained page that
//! escapes what fixtures and payloads hold and holds no secret; a real browser renders it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use scraper::{Html, Selector};

use common::{LineReader, copy_workspace, missing_peer, root};

/// How long one thingbench or browser run may take.
const LIMIT: Duration = Duration::from_secs(120);

/// `program args`, from the project root, its stdout and stderr lines and exit code, within
/// [`LIMIT`].
fn run_program(program: &Path, args: &[&str]) -> (Vec<String>, Vec<String>, Option<i32>) {
    let mut child = common::Killed(
        Command::new(program)
            .args(args)
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("{} starts: {e}", program.display())),
    );
    let mut out = LineReader::new(child.0.stdout.take().expect("stdout"));
    let mut err = LineReader::new(child.0.stderr.take().expect("stderr"));
    let out = out.rest(LIMIT);
    let err = err.rest(LIMIT);
    let code = child.0.wait().expect("exit status").code();
    (out, err, code)
}

fn thingbench(args: &[&str]) -> (Vec<String>, Vec<String>, Option<i32>) {
    run_program(Path::new(env!("CARGO_BIN_EXE_thingbench")), args)
}

fn s(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn select(selector: &str) -> Selector {
    Selector::parse(selector).expect("a selector")
}

fn text_of(element: scraper::ElementRef<'_>) -> String {
    element.text().collect::<String>()
}

/// Every file under `dir` with its bytes, by path relative to `dir`.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files: Vec<(PathBuf, Vec<u8>)> = walk(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            (p.strip_prefix(dir).expect("under").to_owned(), bytes)
        })
        .collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// Nothing in the page runs or is fetched: no script, no external source or link.
fn assert_self_contained(page: &Html, html: &str) {
    assert_eq!(
        page.select(&select("script")).count(),
        0,
        "a script element"
    );
    let fetching: Vec<_> = page
        .select(&select("[src], [href], link, iframe, object, embed, img"))
        .map(|element| format!("{:?}", element.value()))
        .collect();
    assert!(fetching.is_empty(), "something to fetch: {fetching:?}");
    assert!(!html.contains("url("), "CSS that fetches");
    assert!(!html.contains("@import"), "CSS that fetches");
}

/// Secrets of the sample workspace that must never reach a report.
const SECRETS: [&str; 3] = ["gw-secret", "inv01-secret", "meter01-secret"];

#[test]
fn a_generated_suite_passes_and_covers_every_point_of_every_sample_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let gen_dir = dir.path().join("gen");
    let again = dir.path().join("again");
    let (out, err, code) =
        thingbench(&["generate", "--workspace", "fixtures", "--out", s(&gen_dir)]);
    assert_eq!(code, Some(0), "{out:?} {err:?}");
    assert!(
        out.iter().any(|l| l.starts_with("wrote ")
            && l.contains("gwPk")
            && l.contains("invPk")
            && l.contains("meterPk")),
        "{out:?}"
    );
    let (_, err, code) = thingbench(&["generate", "--workspace", "fixtures", "--out", s(&again)]);
    assert_eq!(code, Some(0), "{err:?}");
    let first = tree(&gen_dir);
    assert!(first.len() > 40, "{} fixtures", first.len());
    assert!(first == tree(&again), "generating twice gives other bytes");
    // Written again over itself: the same bytes, no new files.
    let (_, err, code) = thingbench(&["generate", "--workspace", "fixtures", "--out", s(&gen_dir)]);
    assert_eq!(code, Some(0), "{err:?}");
    assert!(
        first == tree(&gen_dir),
        "a second generate into the same folder changed it"
    );

    let report = dir.path().join("r.html");
    let (out, err, code) = thingbench(&[
        "run",
        s(&gen_dir),
        "--workspace",
        "fixtures",
        "--report",
        s(&report),
    ]);
    assert_eq!(code, Some(0), "{out:?}\n{err:?}");
    // One invoke per service, in a commands/ folder of its own: with no device, skipped.
    let commands = first
        .iter()
        .filter(|(path, _)| path.starts_with("commands"))
        .count();
    assert_eq!(commands, 1, "setPowerLimit of the inverter");
    assert!(
        first
            .iter()
            .any(|(path, _)| path.to_string_lossy().contains("event-overtemp-valid")),
        "an event post per event"
    );
    assert_eq!(
        out.last().map(String::as_str),
        Some(
            format!(
                "{} passed, 0 failed, {commands} skipped",
                first.len() - commands
            )
            .as_str()
        ),
        "{out:?}"
    );
    let html = std::fs::read_to_string(&report).expect("the report is written");
    let page = Html::parse_document(&html);
    assert_self_contained(&page, &html);
    let rows: Vec<_> = page.select(&select("#coverage-summary tbody tr")).collect();
    let models: Vec<String> = rows
        .iter()
        .map(|r| r.value().attr("data-model").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(models, ["wb_gateway", "wb_inverter", "wb_meter"]);
    for row in rows {
        let cells: Vec<String> = row.select(&select("td")).map(text_of).collect();
        // model, products, points sent, sent valid, ways to be wrong sent
        for share in &cells[2..] {
            assert!(share.ends_with("(100 %)"), "{cells:?}");
        }
    }
    let items = page.select(&select("section.item")).count();
    assert_eq!(items, first.len());
    assert_eq!(
        page.select(&select("section.item.pass")).count(),
        first.len() - commands
    );
}

#[test]
fn the_sample_suites_report_names_every_fixture_with_its_codes_and_no_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("sample.html");
    let junit = dir.path().join("junit.xml");
    let (out, err, code) = thingbench(&[
        "run",
        "fixtures/messages",
        "--report",
        s(&report),
        "--junit",
        s(&junit),
    ]);
    assert_eq!(code, Some(0), "{out:?}\n{err:?}");
    let html = std::fs::read_to_string(&report).expect("the report is written");
    let page = Html::parse_document(&html);
    assert_self_contained(&page, &html);
    for secret in SECRETS {
        assert!(!html.contains(secret), "{secret} is in the report");
    }
    // Each result line of the terminal is a section of the page, same verdict, same codes; the
    // commands, which no device could answer here, are there as skipped.
    let results: Vec<&String> = out
        .iter()
        .filter(|l| l.starts_with("PASS ") || l.starts_with("SKIP "))
        .collect();
    let sections: Vec<_> = page.select(&select("section.item")).collect();
    assert_eq!(sections.len(), results.len());
    assert_eq!(sections.len(), common::all_sample_fixtures().len());
    for (line, section) in results.iter().zip(&sections) {
        let title = text_of(section.select(&select("h3")).next().expect("a title"));
        let expected = text_of(
            section
                .select(&select("dd.expected"))
                .next()
                .expect("expected"),
        );
        let actual = text_of(section.select(&select("dd.actual")).next().expect("got"));
        if line.starts_with("SKIP ") {
            assert!(title.starts_with("SKIP "), "{title}");
            assert!(actual.starts_with("skipped: "), "{actual}");
            continue;
        }
        assert!(title.starts_with("PASS "), "{title}");
        // `PASS  name  expected 1204  got 1204  0.31 ms`
        let code = expected.split(' ').next().expect("a code");
        assert!(
            line.contains(&format!("expected {code}  got {code}")),
            "{line} / {expected}"
        );
        assert!(actual.starts_with(code), "{actual}");
        assert!(
            line.contains(title.trim_start_matches("PASS ")),
            "{line} / {title}"
        );
    }
    // The login's sign is masked in its request.
    let login = sections
        .iter()
        .find(|s| {
            text_of(s.select(&select("div.src")).next().expect("src"))
                .ends_with("060-200-login.json")
        })
        .expect("the login fixture");
    let request = text_of(
        login
            .select(&select("details pre"))
            .next()
            .expect("its request"),
    );
    assert!(request.contains("\"sign\": \"***\""), "{request}");
    // The sample suite's coverage: every point sent, every code of the table seen, and the
    // ways to be wrong it misses (it never sends a bad quality to the gateway, for one).
    let summary: Vec<Vec<String>> = page
        .select(&select("#coverage-summary tbody tr"))
        .map(|r| r.select(&select("td")).map(text_of).collect())
        .collect();
    assert_eq!(summary.len(), 3);
    for row in &summary {
        assert!(row[2].ends_with("(100 %)"), "{row:?}");
        assert!(!row[4].ends_with("(100 %)"), "{row:?}");
    }
    let never = text_of(
        page.select(&select("#codes p.never"))
            .next()
            .expect("codes line"),
    );
    assert_eq!(never, "Every code of the table was seen.");
    // JUnit stays as it is.
    let xml = std::fs::read_to_string(&junit).expect("junit");
    assert_eq!(xml.matches("<testcase ").count(), sections.len());
}

#[test]
fn hostile_names_and_payloads_show_as_text() {
    let ws = copy_workspace();
    let messages = ws.path().join("messages");
    std::fs::remove_dir_all(&messages).expect("clear");
    std::fs::create_dir_all(&messages).expect("mkdir");
    let hostile = r#"{
      "name": "<script>alert(1)</script>",
      "request": {"version": "1.0", "method": "thing.measurepoint.post.batch",
        "params": [{"productKey": "invPk", "deviceKey": "inv01", "time": "now",
                    "measurepoints": {"fwVersion": "<img src=x onerror=alert(2)>", "<b>bold</b>": 1}}]},
      "expect": {"code": 200}
    }"#;
    std::fs::write(messages.join("hostile.json"), hostile).expect("write");
    let raw = r#"{"name": "raw </pre><a href='http://example.com'>x</a>", "raw": "</pre><iframe src=//example.com>", "expect": {"code": 1220}}"#;
    std::fs::write(messages.join("raw.json"), raw).expect("write");
    std::fs::write(messages.join("zz-broken.json"), "{\"name\": ").expect("write");
    let report = ws.path().join("hostile.html");
    let (out, err, code) = thingbench(&[
        "run",
        s(&messages),
        "--workspace",
        s(ws.path()),
        "--report",
        s(&report),
    ]);
    // The hostile batch gets 1204 for its unknown point: one failure, exit 1.
    assert_eq!(code, Some(1), "{out:?}\n{err:?}");
    let html = std::fs::read_to_string(&report).expect("the report is written");
    let page = Html::parse_document(&html);
    assert_self_contained(&page, &html);
    let titles: Vec<String> = page
        .select(&select("section.item h3"))
        .map(text_of)
        .collect();
    assert!(
        titles.contains(&"FAIL <script>alert(1)</script>".to_owned()),
        "{titles:?}"
    );
    let bodies: String = page.select(&select("pre")).map(text_of).collect();
    assert!(bodies.contains("<img src=x onerror=alert(2)>"), "{bodies}");
    assert!(
        bodies.contains("</pre><iframe src=//example.com>"),
        "{bodies}"
    );
    let findings: String = page
        .select(&select("ul.findings li"))
        .map(text_of)
        .collect();
    assert!(
        findings.contains("\"<b>bold</b>\" is not a measure point"),
        "{findings}"
    );
    assert_eq!(
        page.select(&select("b")).count(),
        0,
        "markup from a payload"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped"
    );
    // A fixture that cannot be loaded is a failed item naming its file and why.
    let broken = page
        .select(&select("section.item.fail"))
        .find(|s| text_of(*s).contains("zz-broken.json"))
        .expect("the broken fixture's section");
    assert!(
        text_of(broken).contains("could not load the fixture"),
        "{}",
        text_of(broken)
    );
}

#[test]
fn generate_says_in_one_sentence_what_is_wrong_with_its_input() {
    let (out, err, code) = thingbench(&["generate", "--product", "nopePk", "--out", "unused-gen"]);
    assert_eq!(code, Some(2), "{out:?}");
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].contains(
            "workspace.json: product \"nopePk\" is not in products; use one of gwPk, invPk, meterPk"
        ),
        "{err:?}"
    );
    assert!(!root().join("unused-gen").exists(), "nothing is written");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").expect("write");
    let (_, err, code) = thingbench(&["generate", "--out", s(&file)]);
    assert_eq!(code, Some(2));
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].contains("a-file") && err[0].contains("check --out"),
        "{err:?}"
    );
    // One product only: its folder and nothing else.
    let only = dir.path().join("only");
    let (out, _, code) = thingbench(&["generate", "--product", "meterPk", "--out", s(&only)]);
    assert_eq!(code, Some(0));
    assert_eq!(
        out,
        [format!("wrote 13 fixtures to {} (meterPk 13)", s(&only))]
    );
    let folders: Vec<_> = std::fs::read_dir(&only)
        .expect("out")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(folders, ["meterPk"]);
}

#[test]
fn a_report_to_a_missing_folder_is_refused_before_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("no/such/folder/r.html");
    let (out, err, code) = thingbench(&["run", "fixtures/messages", "--report", s(&report)]);
    assert_eq!(code, Some(2));
    assert!(out.is_empty(), "the run started: {out:?}");
    assert_eq!(err.len(), 1, "{err:?}");
    assert!(
        err[0].contains("r.html: the folder") && err[0].contains("does not exist"),
        "{err:?}"
    );
}

/// The browser Debian packages, when installed.
fn browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium-headless-shell", "chromium", "chromium-browser"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |dir| dir.join(name)))
        .find(|candidate| candidate.is_file())
}

#[test]
fn a_real_browser_renders_the_report_offline() {
    let Some(browser) = browser() else {
        missing_peer(
            "chromium-headless-shell",
            "apt-get install chromium-headless-shell",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("r.html");
    let (_, err, code) = thingbench(&["run", "fixtures/messages", "--report", s(&report)]);
    assert_eq!(code, Some(0), "{err:?}");
    let url = format!("file://{}", s(&report));
    let profile = dir.path().join("profile");
    let common_args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--no-first-run".to_owned(),
        // Offline: nothing may be fetched.
        "--proxy-server=127.0.0.1:9".to_owned(),
        format!("--user-data-dir={}", s(&profile)),
    ];
    let mut dump: Vec<String> = common_args.to_vec();
    dump.extend(["--dump-dom".to_owned(), url.clone()]);
    let dump: Vec<&str> = dump.iter().map(String::as_str).collect();
    let (dom, err, code) = run_program(&browser, &dump);
    assert_eq!(code, Some(0), "{err:?}");
    let page = Html::parse_document(&dom.join("\n"));
    let summary = text_of(
        page.select(&select("#summary p.summary"))
            .next()
            .expect("the summary in the DOM"),
    );
    let passed = common::sample_fixtures().len();
    let skipped = common::sample_commands().len();
    let total = passed + skipped;
    assert_eq!(
        summary,
        format!("{total} fixtures: {passed} passed, 0 failed, {skipped} skipped")
    );

    let shot = dir.path().join("shot.png");
    let mut args: Vec<String> = common_args.to_vec();
    args.extend([
        format!("--screenshot={}", s(&shot)),
        "--window-size=1000,800".to_owned(),
        url,
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, err, code) = run_program(&browser, &args);
    assert_eq!(code, Some(0), "{err:?}");
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("a screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    let pixels = &pixels[..frame.buffer_size()];
    let first = &pixels[..frame.color_type.samples()];
    let differing = pixels
        .chunks(frame.color_type.samples())
        .filter(|p| p != &first)
        .count();
    // Text on a white page: a fair share of pixels are not the background.
    assert!(
        differing * 50 > pixels.len() / frame.color_type.samples(),
        "the page looks blank: {differing} pixels differ from the first"
    );
}

/// A qualification's report made from a run by hand: an outage, the device's posts and a
/// back-fill, a command answered 500 (reply-codes fails, pinned in the picture).
fn qualification_report(path: &Path) {
    use serde_json::json;
    use thingbench::protocol::ReplyCode;
    use thingbench::qualify::{Plan, Record, Seen, SeenRequest, SentCommand, judge};
    use thingbench::workspace::{LoginState, Workspace};
    const START: i64 = 1_700_000_000_000;
    let ws = Workspace::load(&root().join("fixtures")).expect("the sample workspace");
    let text = br#"{"name": "drawn", "device": "gwPk/gw01", "periodS": 1, "commandTimeoutS": 1,
        "phases": [{"name": "steady", "forS": 3, "commands": [
                     {"atS": 1, "device": "gwPk/gw01", "get": ["cpuLoad"]}]},
                   {"name": "outage", "forS": 3, "network": "down"},
                   {"name": "recovery", "forS": 4}]}"#;
    let plan = Plan::from_slice(Path::new("plans/drawn.json"), text, &ws).expect("a plan");
    let mut record = Record {
        start_epoch_ms: START,
        seen: Vec::new(),
        commands: SentCommand::all_of(&plan),
    };
    record.commands[0].delivered_ms = Some(1_000);
    let batch = "/sys/gwPk/gw01/thing/measurepoint/post/batch";
    let seen = |at_ms: u64, topic: &str, body: serde_json::Value| {
        Seen::Request(SeenRequest {
            at_ms,
            conn: 1,
            row: Some(usize::try_from(at_ms).unwrap_or(0)),
            topic: topic.into(),
            payload: body.to_string().into_bytes(),
            answered: Some(ReplyCode(200)),
        })
    };
    let post = |at_ms: u64, times: &[u64], method: &str| {
        let params: Vec<_> = times
            .iter()
            .map(|t| json!({"time": START + i64::try_from(*t).unwrap_or(0), "measurepoints": {"cpuLoad": 1.5}}))
            .collect();
        json!({"id": format!("p{at_ms}"), "version": "1.0", "method": method, "params": params})
    };
    record.seen.push(Seen::Connect {
        at_ms: 0,
        conn: 1,
        signed: Ok(()),
    });
    for at in [100, 600, 1_100, 1_600, 2_100, 2_600] {
        record.seen.push(seen(
            at,
            batch,
            post(at, &[at], "thing.measurepoint.post.batch"),
        ));
    }
    record.seen.push(seen(
        1_010,
        "/sys/gwPk/gw01/thing/service/measurepoint/get_reply",
        json!({"id": "700001", "code": 500, "data": null}),
    ));
    record.seen.push(Seen::Disconnect {
        at_ms: 3_000,
        conn: 1,
        departed: true,
    });
    for at in [4_000, 5_200] {
        record.seen.push(Seen::Attempt { at_ms: at });
    }
    record.seen.push(Seen::Connect {
        at_ms: 6_300,
        conn: 2,
        signed: Ok(()),
    });
    record.seen.push(seen(
        6_400,
        "/sys/gwPk/gw01/thing/measurepoint/resume/batch",
        post(
            6_400,
            &[3_100, 4_100, 5_100],
            "thing.measurepoint.resume.batch",
        ),
    ));
    for at in [6_500, 7_000, 7_500, 8_000, 8_500, 9_000, 9_500] {
        record.seen.push(seen(
            at,
            batch,
            post(at, &[at], "thing.measurepoint.post.batch"),
        ));
    }
    let results = judge(&plan, &ws.registry(&LoginState::Only(Vec::new())), &record);
    let header =
        thingbench::report::Header::now("qualification: drawn", &ws.root, "the embedded broker");
    thingbench::report::Report::of_qualification(header, &ws, &plan, &results, &record)
        .write(path)
        .expect("the report written");
}

#[test]
fn a_real_browser_draws_the_picture_of_a_qualification_run() {
    let Some(browser) = browser() else {
        missing_peer(
            "chromium-headless-shell",
            "apt-get install chromium-headless-shell",
        );
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let report = dir.path().join("q.html");
    qualification_report(&report);
    let html = std::fs::read_to_string(&report).expect("the report");
    assert_self_contained(&Html::parse_document(&html), &html);
    let url = format!("file://{}", s(&report));
    let profile = dir.path().join("profile");
    let common_args = [
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--no-first-run".to_owned(),
        "--proxy-server=127.0.0.1:9".to_owned(),
        format!("--user-data-dir={}", s(&profile)),
    ];
    // The DOM as the browser built it: the SVG with its bands, lanes, marks and the pin.
    let mut dump: Vec<String> = common_args.to_vec();
    dump.extend(["--dump-dom".to_owned(), url.clone()]);
    let dump: Vec<&str> = dump.iter().map(String::as_str).collect();
    let (dom, err, code) = run_program(&browser, &dump);
    assert_eq!(code, Some(0), "{err:?}");
    let page = Html::parse_document(&dom.join("\n"));
    assert_eq!(page.select(&select("svg.picture")).count(), 1);
    assert_eq!(page.select(&select("svg.picture rect.band")).count(), 3);
    let kinds: Vec<String> = page
        .select(&select("svg.picture g.mark"))
        .filter_map(|g| g.value().attr("data-kind").map(str::to_owned))
        .collect();
    for kind in [
        "Post",
        "Backfill",
        "Connect",
        "Disconnect",
        "Attempt",
        "CommandFaulty",
    ] {
        assert!(kinds.iter().any(|k| k == kind), "{kind} in {kinds:?}");
    }
    assert_eq!(page.select(&select("svg.picture g.pin")).count(), 1);
    let caption = text_of(
        page.select(&select("ol.pins li"))
            .next()
            .expect("the pin's caption"),
    );
    assert!(caption.contains("reply-codes"), "{caption}");
    // Drawn: the outage's band and the pin in their colours, on screen.
    let shot = dir.path().join("shot.png");
    let mut args: Vec<String> = common_args.to_vec();
    args.extend([
        format!("--screenshot={}", s(&shot)),
        "--window-size=1000,1000".to_owned(),
        url,
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (_, err, code) = run_program(&browser, &args);
    assert_eq!(code, Some(0), "{err:?}");
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&shot).expect("a screenshot"),
    ));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let frame = reader.next_frame(&mut pixels).expect("a frame");
    let samples = frame.color_type.samples();
    let pixels = &pixels[..frame.buffer_size()];
    let count = |rgb: [u8; 3]| pixels.chunks(samples).filter(|p| p[..3] == rgb).count();
    // #ffdcdc, the outage's band; #cf222e, the failed check's pin (and the word FAIL).
    assert!(
        count([0xff, 0xdc, 0xdc]) > 2_000,
        "the outage band is not drawn"
    );
    assert!(count([0xcf, 0x22, 0x2e]) > 50, "the pin is not drawn");
}
