//! The page's views: each reads through the core call its REST resource
//! makes and shows the figures as the API writes them (two decimals).

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use kvp_rules::YearMonth;
use rust_decimal::Decimal;
use serde::Deserialize;
use time::Date;
use uuid::Uuid;

use super::text::Text;
use super::{Viewer, WebState, html, see_other};
use crate::error::ServiceError;
use crate::ingest::{QuotaEntryView, QuotaSummary};
use crate::payroll::{ParticipantListing, WorkItem, WorkItemKind};
use crate::rest::extract::{Id, Month, Params};

/// What every page shows around its content: the language, the caller, the
/// municipality's links and the caller's form token.
pub struct Chrome {
    pub t: &'static Text,
    pub lang: &'static str,
    pub actor: String,
    pub role: &'static str,
    pub development: bool,
    pub may_change: bool,
    pub municipality: Option<String>,
    pub csrf: String,
    pub notice: &'static str,
}

impl Chrome {
    fn of(web: &super::Web, viewer: &Viewer, municipality: Option<&str>) -> Self {
        let t = viewer.text();
        Self {
            t,
            lang: viewer.lang.code(),
            actor: viewer.actor.clone(),
            role: t.role_name(viewer.role.as_str()),
            development: viewer.development,
            may_change: viewer.may_change(),
            municipality: municipality
                .map(str::to_owned)
                .or_else(|| viewer.municipality.clone()),
            csrf: web.tokens.issue(&viewer.actor, crate::clock::now()),
            notice: viewer.done.map(|d| d.words(t)).unwrap_or_default(),
        }
    }
}

/// An error, from the problem details of the API.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub t: &'static Text,
    pub lang: &'static str,
    pub status: u16,
    pub title: String,
    pub detail: String,
    pub fields: Vec<String>,
}

/// The start page: the development role picker, or a municipality to open.
#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    c: Chrome,
    roles: Vec<(&'static str, &'static str, bool)>,
    name: String,
}

/// `?municipality=` of the start page.
#[derive(Debug, Deserialize)]
pub struct HomeQuery {
    municipality: Option<String>,
}

/// The start page: straight to the caller's municipality's worklist.
pub async fn home(
    State(web): WebState,
    viewer: Viewer,
    Query(query): Query<HomeQuery>,
) -> Result<Response, ServiceError> {
    let asked = query
        .municipality
        .filter(|m| m.len() == 4 && m.bytes().all(|b| b.is_ascii_digit()));
    if let Some(municipality) = asked.or_else(|| viewer.municipality.clone()) {
        return Ok(see_other(&format!(
            "/ui/municipalities/{municipality}/worklist"
        )));
    }
    let t = viewer.text();
    let roles = super::ROLES
        .into_iter()
        .map(|r| (r.as_str(), t.role_name(r.as_str()), r == viewer.role))
        .collect();
    let name = viewer
        .actor
        .split_once(':')
        .map(|(_, n)| n.to_owned())
        .unwrap_or_default();
    html(&HomePage {
        c: Chrome::of(&web, &viewer, None),
        roles,
        name,
    })
}

/// A participant in a list: name, employee number, link.
struct Person {
    id: Uuid,
    name: String,
    employee_number: String,
}

impl Person {
    fn of(listing: &ParticipantListing, t: &Text) -> Self {
        Self {
            id: listing.participant.id,
            name: listing.participant.display_name.clone(),
            employee_number: listing
                .employee_number
                .clone()
                .unwrap_or_else(|| t.none.to_owned()),
        }
    }
}

/// One row of the worklist.
struct WorkRow {
    kind: &'static str,
    kind_code: &'static str,
    participant_id: Uuid,
    name: String,
    employee_number: String,
    month: String,
    reason: String,
}

fn work_rows(items: &[WorkItem], people: &BTreeMap<Uuid, Person>, t: &Text) -> Vec<WorkRow> {
    items
        .iter()
        .map(|item| {
            let person = people.get(&item.participant_id);
            WorkRow {
                kind: t.work_kind(item.kind.as_str()),
                kind_code: item.kind.as_str(),
                participant_id: item.participant_id,
                name: person.map(|p| p.name.clone()).unwrap_or_default(),
                employee_number: person
                    .map(|p| p.employee_number.clone())
                    .unwrap_or_default(),
                month: item.month.to_string(),
                reason: item.reason.clone(),
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "worklist.html")]
struct WorklistPage {
    c: Chrome,
    municipality: String,
    as_of: Date,
    counts: Vec<(&'static str, usize)>,
    rows: Vec<WorkRow>,
}

/// `?as_of=` of a page that holds on a date.
#[derive(Debug, Deserialize)]
pub struct AsOfQuery {
    as_of: Option<String>,
}

impl AsOfQuery {
    fn date(&self) -> Result<Date, ServiceError> {
        match &self.as_of {
            Some(text) if !text.is_empty() => crate::ingest::parse_date(text)
                .ok_or_else(|| ServiceError::field("as_of", "must be a date YYYY-MM-DD")),
            _ => Ok(crate::clock::today()),
        }
    }
}

async fn people(
    web: &super::Web,
    municipality: &str,
    t: &Text,
) -> Result<BTreeMap<Uuid, Person>, ServiceError> {
    Ok(web
        .payroll
        .find_participants(municipality, "")
        .await?
        .iter()
        .map(|l| (l.participant.id, Person::of(l, t)))
        .collect())
}

/// The municipality's worklist (REST `GET /v1/municipalities/{id}/worklist`),
/// with a count per kind.
pub async fn worklist(
    State(web): WebState,
    viewer: Viewer,
    axum::extract::Path(municipality): axum::extract::Path<String>,
    Query(query): Query<AsOfQuery>,
) -> Result<Response, ServiceError> {
    let as_of = query.date()?;
    let t = viewer.text();
    let items = web.payroll.worklist(&municipality, as_of).await?;
    let people = people(&web, &municipality, t).await?;
    // Counted in the order of the kinds (held first), as the list is sorted.
    let mut counts: BTreeMap<WorkItemKind, (&'static str, usize)> = BTreeMap::new();
    for item in &items {
        counts
            .entry(item.kind)
            .or_insert((t.work_kind(item.kind.as_str()), 0))
            .1 += 1;
    }
    html(&WorklistPage {
        c: Chrome::of(&web, &viewer, Some(&municipality)),
        as_of,
        counts: counts.into_values().collect(),
        rows: work_rows(&items, &people, t),
        municipality,
    })
}

#[derive(Template)]
#[template(path = "find.html")]
struct FindPage {
    c: Chrome,
    municipality: String,
    query: String,
    found: Vec<Person>,
}

/// `?q=` of the search.
#[derive(Debug, Deserialize)]
pub struct FindQuery {
    #[serde(default)]
    q: String,
}

/// Finds a participant by name or the last digits of the employee number.
pub async fn find(
    State(web): WebState,
    viewer: Viewer,
    axum::extract::Path(municipality): axum::extract::Path<String>,
    Query(query): Query<FindQuery>,
) -> Result<Response, ServiceError> {
    let t = viewer.text();
    let found = web
        .payroll
        .find_participants(&municipality, &query.q)
        .await?
        .iter()
        .map(|l| Person::of(l, t))
        .collect();
    html(&FindPage {
        c: Chrome::of(&web, &viewer, Some(&municipality)),
        municipality,
        query: query.q,
        found,
    })
}

/// A fact in the participant's list, with the page that corrects it.
struct FactRow {
    what: String,
    link: String,
}

/// A quota's entry as a row.
struct EntryRow {
    date: Date,
    kind: &'static str,
    hours: String,
    within: String,
    unexcused: String,
    flag: String,
}

fn entry_rows(entries: &[QuotaEntryView], t: &Text) -> Vec<EntryRow> {
    entries
        .iter()
        .map(|e| EntryRow {
            date: e.date,
            kind: t.entry_kind(&e.kind),
            hours: kvp_rules::format_hours(e.hours),
            within: kvp_rules::format_hours(e.within_quota_hours),
            unexcused: kvp_rules::format_hours(e.turned_unexcused_hours),
            flag: e.flag.as_deref().map(|f| t.flag(f)).unwrap_or_default(),
        })
        .collect()
}

/// A yearly quota as the page shows it.
struct YearlyView {
    quota_days: String,
    used_days: String,
    left_days: String,
    quota_hours: String,
    used_hours: String,
    left_hours: String,
    doubled: bool,
    entries: Vec<EntryRow>,
}

fn yearly(quota: &crate::ingest::YearlyQuotaUse, t: &Text) -> YearlyView {
    YearlyView {
        quota_days: quota.quota_days.to_string(),
        used_days: quota.used_days.to_string(),
        left_days: quota.left_days.to_string(),
        quota_hours: quota.quota_hours.to_string(),
        used_hours: quota.used_hours.to_string(),
        left_hours: quota.left_hours.to_string(),
        doubled: quota.doubled_for_sole_carer,
        entries: entry_rows(&quota.entries, t),
    }
}

/// The absence overview as the page shows it: the REST answer's figures.
struct Overview {
    summary: QuotaSummary,
    self_cert_entries: Vec<EntryRow>,
    exceeded: bool,
    leave: YearlyView,
    child_sickness: YearlyView,
}

#[derive(Template)]
#[template(path = "participant.html")]
struct ParticipantPage {
    c: Chrome,
    id: Uuid,
    name: String,
    employee_number: String,
    birth_date: Date,
    as_of: Date,
    overview: Option<Overview>,
    overview_missing: String,
    work: Vec<WorkRow>,
    months: Vec<String>,
    facts: Vec<(&'static str, Vec<FactRow>)>,
    decisions: Vec<DecisionRow>,
    warnings: Vec<WarningRow>,
    today: Date,
}

struct DecisionRow {
    id: Uuid,
    date: Date,
    kind: &'static str,
    outcome: String,
    reference: String,
    decided_by: String,
    appeal_deadline: String,
    link: String,
    appeal: AppealState,
}

/// Where an appeal against a decision stands.
enum AppealState {
    /// A decision not to deduct: nothing to appeal.
    None,
    /// A deduction no appeal was recorded against.
    Possible,
    /// Received, awaiting its outcome.
    Open(String),
    /// Decided.
    Decided(String),
}

struct WarningRow {
    given_on: Date,
    channel: String,
    reference: String,
    days: String,
}

/// A participant: facts, the absence overview on a date (REST
/// `GET /v1/participants/{id}/absence-overview`), work awaiting, months,
/// decisions and warnings.
pub async fn participant(
    State(web): WebState,
    viewer: Viewer,
    Params(Id(id)): Params<Id>,
    Query(query): Query<AsOfQuery>,
) -> Result<Response, ServiceError> {
    let as_of = query.date()?;
    let t = viewer.text();
    let facts = web.payroll.facts(id).await?;
    let municipality = facts.participant.municipality_id.clone();
    let (overview, overview_missing) = match web.payroll.absence_overview(id, as_of).await {
        Ok(summary) => {
            let exceeded = summary
                .self_certification
                .entries
                .iter()
                .chain(&summary.leave.entries)
                .chain(&summary.child_sickness.entries)
                .any(|e| e.flag.is_some());
            (
                Some(Overview {
                    self_cert_entries: entry_rows(&summary.self_certification.entries, t),
                    leave: yearly(&summary.leave, t),
                    child_sickness: yearly(&summary.child_sickness, t),
                    exceeded,
                    summary,
                }),
                String::new(),
            )
        }
        Err(ServiceError::FailedPrecondition { what, .. }) => (None, what),
        Err(other) => return Err(other),
    };
    let employee_number = match web.payroll.employee_number(id).await {
        Ok(number) => number.employee_number,
        Err(ServiceError::NotFound { .. }) => t.none.to_owned(),
        Err(other) => return Err(other),
    };
    let person = Person {
        id,
        name: facts.participant.display_name.clone(),
        employee_number,
    };
    let items = web.payroll.participant_worklist(id, as_of).await?;
    // The months to open: the last six up to the date's in a programme, and
    // any with work.
    let first = facts
        .programmes
        .iter()
        .map(|p| YearMonth::of(p.programme.start))
        .min();
    let mut months: Vec<YearMonth> = (0..6)
        .scan(YearMonth::of(as_of), |month, _| {
            let this = *month;
            *month = month.previous();
            Some(this)
        })
        .filter(|m| first.is_some_and(|first| *m >= first))
        .collect();
    months.extend(items.iter().map(|i| i.month));
    months.sort_unstable();
    months.dedup();
    months.reverse();
    let fact_link = |kind: &str, id: Uuid| format!("/ui/facts/{kind}/{id}");
    let fact_rows = vec![
        (
            t.programmes,
            facts
                .programmes
                .iter()
                .map(|p| FactRow {
                    what: format!(
                        "{} – {} ({})",
                        p.programme.start,
                        p.programme.end.map(|d| d.to_string()).unwrap_or_default(),
                        p.programme.decision_reference
                    ),
                    link: fact_link("programmes", p.programme.id),
                })
                .collect(),
        ),
        (
            t.children,
            facts
                .children
                .iter()
                .map(|c| FactRow {
                    what: format!("{} {}", t.birth_date, c.birth_date),
                    link: fact_link("children", c.id),
                })
                .collect(),
        ),
        (
            t.sole_carer_periods,
            facts
                .sole_carer_periods
                .iter()
                .map(|p| FactRow {
                    what: format!(
                        "{} – {}",
                        p.from,
                        p.to.map(|d| d.to_string()).unwrap_or_default()
                    ),
                    link: fact_link("sole-carer-periods", p.id),
                })
                .collect(),
        ),
        (
            t.benefit_offsets,
            facts
                .offsets
                .iter()
                .map(|o| FactRow {
                    what: format!(
                        "{} {} {}",
                        YearMonth::of(o.month),
                        o.kind.as_str(),
                        kvp_rules::format_amount(o.amount)
                    ),
                    link: fact_link("benefit-offsets", o.id),
                })
                .collect(),
        ),
    ];
    let appeals = web.payroll.appeals(id).await?;
    let decisions = web
        .payroll
        .decisions(id)
        .await?
        .iter()
        .map(|d| {
            let appeal = appeals.iter().find(|a| a.decision_id == d.id);
            DecisionRow {
                id: d.id,
                date: d.date,
                kind: t.entry_kind(d.entry_kind.as_str()),
                outcome: d.outcome.as_str().to_owned(),
                reference: d.reference.clone(),
                decided_by: d.decided_by.clone(),
                appeal_deadline: d.appeal_deadline.map(|d| d.to_string()).unwrap_or_default(),
                link: fact_link("sanction-decisions", d.id),
                appeal: match appeal {
                    Some(a) => match (a.outcome, a.decided_on) {
                        (Some(outcome), Some(on)) => {
                            AppealState::Decided(format!("{} {on}", outcome.as_str()))
                        }
                        _ => AppealState::Open(format!("{} {}", a.received_on, a.reference)),
                    },
                    None if d.outcome == kvp_store::DecisionOutcome::Approved => {
                        AppealState::Possible
                    }
                    None => AppealState::None,
                },
            }
        })
        .collect();
    let warnings = web
        .payroll
        .warnings(id)
        .await?
        .iter()
        .map(|w| WarningRow {
            given_on: w.given_on,
            channel: w.channel.as_str().to_owned(),
            reference: w.reference.clone(),
            days: w
                .days
                .iter()
                .map(|d| format!("{} {}", d.date, t.entry_kind(d.entry_kind.as_str())))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    html(&ParticipantPage {
        c: Chrome::of(&web, &viewer, Some(&municipality)),
        id,
        name: facts.participant.display_name.clone(),
        employee_number: person.employee_number.clone(),
        birth_date: facts.participant.birth_date,
        as_of,
        overview,
        overview_missing,
        work: work_rows(&items, &BTreeMap::from([(id, person)]), t),
        months: months.iter().map(ToString::to_string).collect(),
        facts: fact_rows,
        decisions,
        warnings,
        today: crate::clock::today(),
    })
}

/// A pay line of the month, as computed now.
struct LineRow {
    label: &'static str,
    code: &'static str,
    quantity: String,
    amount: String,
    reference: &'static str,
    summary: String,
    details: Vec<String>,
}

/// A line paid in a run for the month.
struct PaidRow {
    run_month: String,
    label: &'static str,
    code: String,
    amount: String,
    explanation: String,
}

/// An entry of the month and what became of it.
struct OutcomeRow {
    date: Date,
    kind: &'static str,
    hours: String,
    unexcused: String,
    sanctioned: String,
    pending: String,
    flag: String,
}

/// Hours awaiting the sanction procedure, and its next step.
struct PendingRow {
    date: Date,
    kind: &'static str,
    entry_kind: &'static str,
    hours: String,
    warned: bool,
}

#[derive(Template)]
#[template(path = "month.html")]
struct MonthPage {
    c: Chrome,
    id: Uuid,
    name: String,
    month: String,
    today: Date,
    lines: Vec<LineRow>,
    total: String,
    flags: Vec<String>,
    paid: Vec<PaidRow>,
    paid_total: String,
    difference: String,
    entries: Vec<OutcomeRow>,
    pending: Vec<PendingRow>,
}

/// A participant's month: the lines as computed now with their explanation
/// (REST `GET /v1/participants/{id}/months/{month}`), what runs paid for it
/// and the change the next run settles (REST `…/payslips/{month}`), and the
/// sanction procedure on the hours that await it.
pub async fn month(
    State(web): WebState,
    viewer: Viewer,
    Params(path): Params<(Id, Month)>,
) -> Result<Response, ServiceError> {
    let (Id(id), Month(month)) = path;
    let t = viewer.text();
    let participant = web.payroll.participant(id).await?;
    let statement = web.payroll.month_statement(id, month).await?;
    let warnings = web.payroll.warnings(id).await?;
    let current = &statement.current;
    let lines = current
        .lines
        .iter()
        .map(|line| LineRow {
            label: t.line(line.code.as_str()),
            code: line.code.as_str(),
            quantity: line
                .quantity
                .as_ref()
                .map(|q| match q.rate {
                    Some(rate) => format!(
                        "{} {} × {}",
                        kvp_rules::format_hours(q.value),
                        q.unit.as_str(),
                        kvp_rules::format_amount(rate)
                    ),
                    None => format!("{} {}", kvp_rules::format_hours(q.value), q.unit.as_str()),
                })
                .unwrap_or_default(),
            amount: kvp_rules::format_amount(line.amount),
            reference: line.code.reference(),
            summary: line.summary.clone(),
            details: line.details.clone(),
        })
        .collect();
    let paid = statement
        .paid
        .iter()
        .map(|p| PaidRow {
            run_month: p.run_month.to_string(),
            label: t.line(p.line.line_code.as_str()),
            code: p.line.line_code.as_str().to_owned(),
            amount: kvp_rules::format_amount(p.line.amount),
            explanation: p.line.explanation.clone(),
        })
        .collect::<Vec<_>>();
    let difference = if paid.is_empty() {
        String::new()
    } else {
        kvp_rules::format_amount(current.total - statement.paid_total)
    };
    let entries = current
        .entries
        .iter()
        .map(|e| OutcomeRow {
            date: e.date,
            kind: t.entry_kind(e.kind.as_str()),
            hours: kvp_rules::format_hours(e.hours),
            unexcused: kvp_rules::format_hours(e.turned_unexcused_hours),
            sanctioned: kvp_rules::format_hours(e.sanctioned_hours),
            pending: kvp_rules::format_hours(e.pending_hours),
            flag: e.flag.map(|f| t.flag(f.as_str())).unwrap_or_default(),
        })
        .collect();
    let pending = current
        .entries
        .iter()
        .filter(|e| e.pending_hours > Decimal::ZERO)
        .map(|e| PendingRow {
            date: e.date,
            kind: t.entry_kind(e.kind.as_str()),
            entry_kind: e.kind.as_str(),
            hours: kvp_rules::format_hours(e.pending_hours),
            warned: warnings.iter().any(|w| {
                w.days
                    .iter()
                    .any(|d| d.date == e.date && d.entry_kind == e.kind)
            }),
        })
        .collect();
    html(&MonthPage {
        c: Chrome::of(&web, &viewer, Some(&participant.municipality_id)),
        id,
        name: participant.display_name,
        month: month.to_string(),
        today: crate::clock::today(),
        lines,
        total: kvp_rules::format_amount(current.total),
        flags: current.flags.iter().map(|f| t.flag(f.as_str())).collect(),
        paid,
        paid_total: kvp_rules::format_amount(statement.paid_total),
        difference,
        entries,
        pending,
    })
}

/// A field of a fact, as the correction form shows it.
struct FieldRow {
    name: String,
    value: String,
}

struct VersionRow {
    version: i64,
    change: String,
    fields: String,
    reason: String,
    recorded_by: String,
    recorded_at: String,
}

#[derive(Template)]
#[template(path = "fact.html")]
struct FactPage {
    c: Chrome,
    kind: String,
    kind_name: &'static str,
    id: String,
    participant_id: String,
    version: i64,
    void: bool,
    fields: Vec<FieldRow>,
    versions: Vec<VersionRow>,
}

/// The text of a fact's field in a form: strings as they are, null empty.
pub(super) fn field_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A fact with its versions (REST `GET /v1/facts/{kind}/{id}/versions`) and,
/// for a caseworker, the forms that correct or void it.
pub async fn fact(
    State(web): WebState,
    viewer: Viewer,
    Params((kind, fact_id)): Params<(String, String)>,
) -> Result<Response, ServiceError> {
    let t = viewer.text();
    let fact_kind = crate::rest::facts::participant_fact(&kind)?;
    let versions = web.payroll.fact_versions(fact_kind, &fact_id).await?;
    let latest = versions.last().ok_or_else(|| ServiceError::NotFound {
        what: format!("{fact_kind} {fact_id}"),
    })?;
    let participant_id = latest.participant_id.unwrap_or_default();
    let participant = web.payroll.participant(participant_id).await?;
    let content = crate::rest::facts::fact_json(&latest.content);
    let fields = content
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(name, value)| FieldRow {
                    name: name.clone(),
                    value: field_text(value),
                })
                .collect()
        })
        .unwrap_or_default();
    let rows = versions
        .iter()
        .rev()
        .map(|v| VersionRow {
            version: v.version,
            change: v.change.as_str().to_owned(),
            fields: crate::rest::facts::fact_json(&v.content).to_string(),
            reason: v.reason.clone().unwrap_or_default(),
            recorded_by: v.recorded_by.clone(),
            recorded_at: v
                .recorded_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        })
        .collect();
    html(&FactPage {
        c: Chrome::of(&web, &viewer, Some(&participant.municipality_id)),
        kind_name: t.fact_kind(&kind),
        kind,
        id: fact_id,
        participant_id: participant_id.to_string(),
        version: latest.version,
        void: latest.is_void(),
        fields,
        versions: rows,
    })
}
