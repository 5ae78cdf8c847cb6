//! Personal data in logs: the whole test process's tracing output, captured,
//! and a check that no national identity number the tests used is in it.
//!
//! [`install`] sets, once per process, a global subscriber at TRACE for every
//! target (the services', sqlx's, hyper's, h2's, tonic's; `log` records too)
//! that writes each event — and each span as it opens and closes, with its
//! fields — twice into an in-memory buffer: as text and as JSON, the two
//! formats the services log in. Every identity number the kit hands out
//! ([`crate::national_id`]) or sends ([`crate::TestApp::call`]) is
//! [`register`]ed. [`check`] scans the capture for every registered number,
//! in its raw eleven digits and in split forms (`150190 12345`,
//! `150190-12345`, `15.01.90 123 45`, …); [`assert_clean`] scans any other
//! text the kit sees (REST bodies, `/metrics`, gRPC statuses, the output of
//! service processes). A finding fails the test that checks, naming the test
//! and showing the line with the number masked; the line names the thread —
//! a test's name — that wrote it.
//!
//! The kit checks at the end of every test (`TestApp::stop`), so the whole
//! suite's traffic is covered. A test that installs its own subscriber with
//! `tracing::subscriber::set_default` (the OTLP test) takes its thread's
//! events away from the capture for as long as the default is set; that test
//! checks what it receives itself.
//!
//! Registered numbers are only searched for in what is written after they are
//! registered: they are registered before they are first sent anywhere.
//!
//! [`on_record`] arms a tripwire: an action run synchronously, inside the
//! logging call, when a captured record matches — so a test can act at an
//! exact point of a service's work (the crash tests kill a process there).

use std::collections::HashSet;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, Once, OnceLock, PoisonError};

use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// Characters allowed between the digit groups of a split number.
const SEPARATORS: &[u8] = b" -./_";

/// The length of a national identity number.
const DIGITS: usize = 11;

/// The length of one born on days 01–09 written as an integer (a JSON
/// number loses the leading zero).
const INTEGER_DIGITS: usize = DIGITS - 1;

/// The process's capture.
struct Capture {
    /// Everything written so far, and how far [`check`] has scanned it.
    text: Mutex<Text>,
    /// The identity numbers searched for, as eleven digits.
    numbers: Mutex<HashSet<String>>,
    /// Armed tripwires.
    tripwires: Mutex<Vec<Tripwire>>,
    /// Whether the global subscriber is this capture (set by [`install`]).
    installed: AtomicBool,
}

/// The captured text.
#[derive(Default)]
struct Text {
    /// Every record, in the order written.
    buffer: String,
    /// The length of `buffer` when it was last scanned.
    scanned: usize,
}

/// An action waiting for a matching record.
struct Tripwire {
    /// Identifies the tripwire for [`TripwireGuard`].
    id: u64,
    /// Decides whether a record trips it.
    matches: Box<dyn Fn(&str) -> bool + Send + Sync>,
    /// Run once, when tripped.
    action: Box<dyn FnOnce() + Send>,
}

fn capture() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| Capture {
        text: Mutex::new(Text::default()),
        numbers: Mutex::new(HashSet::new()),
        tripwires: Mutex::new(Vec::new()),
        installed: AtomicBool::new(false),
    })
}

/// A poisoned lock only means another test failed while holding it; the data
/// (append-only text, a set) is still whole.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Installs the capturing global subscriber, once per process. Called by the
/// kit wherever traffic starts (spawning a service, handing out a number).
pub fn install() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let text = tracing_subscriber::fmt::layer()
            .with_writer(|| Writer)
            .with_ansi(false)
            .with_thread_names(true)
            .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE);
        let json = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(|| Writer)
            .with_thread_names(true)
            .with_current_span(true)
            .with_span_list(true)
            .with_span_events(FmtSpan::NEW | FmtSpan::CLOSE);
        let subscriber = tracing_subscriber::registry()
            .with(LevelFilter::TRACE)
            .with(text)
            .with(json);
        let installed = OwnSpansOnly(subscriber).try_init().is_ok();
        capture().installed.store(installed, Ordering::SeqCst);
    });
}

/// Adds a number to those searched for (its digits; anything that is not
/// eleven digits is ignored).
pub fn register(number: &str) {
    let digits: String = number.chars().filter(char::is_ascii_digit).collect();
    if digits.len() == DIGITS {
        lock(&capture().numbers).insert(digits);
    }
}

/// Where the capture ends now; with [`since`], what was captured after it.
pub fn mark() -> usize {
    lock(&capture().text).buffer.len()
}

/// What was captured after `mark`, by every thread of the process.
pub fn since(mark: usize) -> String {
    let text = lock(&capture().text);
    text.buffer.get(mark..).unwrap_or_default().to_owned()
}

/// Fails the calling test when a registered identity number appears in what
/// was captured since the last check. `context` says what checks (for the
/// message); the test is named from its thread.
pub fn check(context: &str) {
    install();
    let capture = capture();
    assert!(
        capture.installed.load(Ordering::SeqCst),
        "the log capture is not this process's global subscriber: another one was installed first"
    );
    let numbers = lock(&capture.numbers).clone();
    let mut text = lock(&capture.text);
    let from = text.scanned;
    let found = text
        .buffer
        .get(from..)
        .and_then(|new| find(new, &numbers).map(|(at, number)| (at + from, number)));
    text.scanned = text.buffer.len();
    let report = found.map(|(at, number)| (line_at(&text.buffer, at), number));
    drop(text);
    if let Some((line, number)) = report {
        fail(&format!("the captured logs ({context})"), &line, &number);
    }
}

/// Fails the calling test when a registered identity number appears in
/// `text`, which came from `source` (a REST body, `/metrics`, a status, a
/// process's output).
pub fn assert_clean(source: &str, text: &str) {
    let numbers = lock(&capture().numbers).clone();
    if let Some((at, number)) = find(text, &numbers) {
        fail(source, &line_at(text, at), &number);
    }
}

/// Whether `text` holds a registered identity number (for tests of the check).
pub fn contains_registered_number(text: &str) -> bool {
    find(text, &lock(&capture().numbers)).is_some()
}

fn fail(source: &str, line: &str, number: &str) -> ! {
    let test = std::thread::current()
        .name()
        .unwrap_or("an unnamed thread")
        .to_owned();
    panic!(
        "personal data: identity number {} found in {source}, checked by test `{test}`; \
         the line, the number masked:\n{}",
        mask(number),
        mask_all(line, number)
    );
}

/// The first registered number in `text`: its byte offset and the digits
/// found.
///
/// A candidate is a run of digit groups joined by single separators
/// ([`SEPARATORS`]); every eleven consecutive digits of it are looked up, so
/// the raw form, split forms and a number inside a longer run are all found,
/// and every ten for a number starting with 0 written as an integer. Only
/// registered numbers count, so dates, amounts and ids never match by their
/// shape.
pub fn find(text: &str, numbers: &HashSet<String>) -> Option<(usize, String)> {
    if numbers.is_empty() {
        return None;
    }
    let integers: HashSet<&str> = numbers
        .iter()
        .filter_map(|n| n.strip_prefix('0'))
        .filter(|n| n.len() == INTEGER_DIGITS)
        .collect();
    let bytes = text.as_bytes();
    let mut digits = String::new();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        digits.clear();
        loop {
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                digits.push(char::from(bytes[i]));
                i += 1;
            }
            let joined = i + 1 < bytes.len()
                && SEPARATORS.contains(&bytes[i])
                && bytes[i + 1].is_ascii_digit();
            if !joined {
                break;
            }
            i += 1;
        }
        for window in 0..digits.len() {
            let rest = &digits[window..];
            if let Some(candidate) = rest.get(..DIGITS).filter(|c| numbers.contains(*c)) {
                return Some((start, candidate.to_owned()));
            }
            if let Some(candidate) = rest.get(..INTEGER_DIGITS).filter(|c| integers.contains(c)) {
                return Some((start, candidate.to_owned()));
            }
        }
    }
    None
}

/// The line of `text` around byte `at`.
fn line_at(text: &str, at: usize) -> String {
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
    text[start..end].to_owned()
}

/// The number with its individual part hidden.
fn mask(number: &str) -> String {
    format!("{}*****", &number[..number.len().saturating_sub(5)])
}

/// `line` with every digit of the number's occurrences hidden (raw form only;
/// a split form is shown as found, the message says which number it is).
fn mask_all(line: &str, number: &str) -> String {
    line.replace(number, &mask(number))
}

/// The capture's subscriber, ignoring span ids it never issued.
///
/// A `Registry` closes a closing span's parent through the thread's *default*
/// dispatcher, not through its own (tokio-rs/tracing#1656). The OTLP test
/// runs the service under a subscriber of its own; when one of its spans
/// ends on a thread where that subscriber is not the default — a sqlx SQLite
/// worker thread — its parent's id reaches this global subscriber, whose
/// registry panics on an id it does not know, killing the worker (and the
/// connection pool then never closes). Ids are only taken here for spans
/// this registry holds. Another registry's span id could in principle equal
/// one of ours (ids are slab slots, sharded by the creating thread, and the
/// foreign spans are made on a thread that makes none here), so this is a
/// test kit's measure, not a general fix.
struct OwnSpansOnly<S>(S);

impl<S> OwnSpansOnly<S>
where
    S: for<'a> LookupSpan<'a>,
{
    fn holds(&self, id: &Id) -> bool {
        self.0.span_data(id).is_some()
    }
}

impl<S> Subscriber for OwnSpansOnly<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.0.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        self.0.enabled(metadata)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.0.max_level_hint()
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        self.0.new_span(attributes)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if self.holds(span) {
            self.0.record(span, values);
        }
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        if self.holds(span) && self.holds(follows) {
            self.0.record_follows_from(span, follows);
        }
    }

    fn event_enabled(&self, event: &Event<'_>) -> bool {
        self.0.event_enabled(event)
    }

    fn event(&self, event: &Event<'_>) {
        self.0.event(event);
    }

    fn enter(&self, span: &Id) {
        if self.holds(span) {
            self.0.enter(span);
        }
    }

    fn exit(&self, span: &Id) {
        if self.holds(span) {
            self.0.exit(span);
        }
    }

    fn clone_span(&self, id: &Id) -> Id {
        if self.holds(id) {
            self.0.clone_span(id)
        } else {
            id.clone()
        }
    }

    fn try_close(&self, id: Id) -> bool {
        self.holds(&id) && self.0.try_close(id)
    }

    fn current_span(&self) -> tracing_core::span::Current {
        self.0.current_span()
    }
}

/// Writes formatted records into the capture.
struct Writer;

impl io::Write for Writer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // The formatter writes one whole record per call.
        let record = String::from_utf8_lossy(bytes);
        lock(&capture().text).buffer.push_str(&record);
        trip(&record);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs (outside the lock) the actions of the tripwires `record` matches.
fn trip(record: &str) {
    let mut tripped = Vec::new();
    {
        let mut tripwires = lock(&capture().tripwires);
        if tripwires.is_empty() {
            return;
        }
        let mut i = 0;
        while i < tripwires.len() {
            if (tripwires[i].matches)(record) {
                tripped.push(tripwires.remove(i).action);
            } else {
                i += 1;
            }
        }
    }
    for action in tripped {
        action();
    }
}

/// An armed tripwire; dropping it disarms it.
#[must_use = "dropping the guard disarms the tripwire"]
pub struct TripwireGuard {
    id: u64,
}

impl Drop for TripwireGuard {
    fn drop(&mut self) {
        lock(&capture().tripwires).retain(|t| t.id != self.id);
    }
}

/// Runs `action` once, synchronously in the thread that logs, when a
/// captured record (one text or JSON line) matches `matches` — before the
/// logging call returns, so before the code that logged goes on.
pub fn on_record(
    matches: impl Fn(&str) -> bool + Send + Sync + 'static,
    action: impl FnOnce() + Send + 'static,
) -> TripwireGuard {
    install();
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    lock(&capture().tripwires).push(Tripwire {
        id,
        matches: Box::new(matches),
        action: Box::new(action),
    });
    TripwireGuard { id }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(list: &[&str]) -> HashSet<String> {
        list.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn raw_split_and_embedded_forms_are_found_and_other_digits_are_not() {
        let set = numbers(&["15019012345", "02030460009"]);
        for text in [
            "fnr=15019012345;",
            "nin 150190 12345 given",
            "150190-12345",
            "15.01.90 123 45",
            "x0015019012345",
            "{\"n\":\"15019012345\"}",
            "invalid type: integer `2030460009`, expected a string",
        ] {
            assert!(find(text, &set).is_some(), "{text}");
        }
        for text in [
            "15019012346",
            "1501901234",
            "150190, 12345",
            "203046000",
            "2025-10-31 12:00:00 run 0193a1b2-1234-7abc-8def-123456789012",
            "",
        ] {
            assert!(find(text, &set).is_none(), "{text}");
        }
        assert!(find("15019012345", &HashSet::new()).is_none());
    }

    #[test]
    fn the_report_masks_the_number_and_shows_its_line() {
        let text = "first\nsecond 15019012345 here\nthird";
        let (at, number) = find(text, &numbers(&["15019012345"])).unwrap();
        assert_eq!(line_at(text, at), "second 15019012345 here");
        assert_eq!(
            mask_all(&line_at(text, at), &number),
            "second 150190***** here"
        );
    }
}
