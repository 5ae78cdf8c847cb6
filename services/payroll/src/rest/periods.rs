//! REST for payroll operators and administrators: the G registered at run time,
//! pay runs with the participants they held, their file export, and the
//! payslip explanation.

use axum::Json;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use kvp_rules::YearMonth;
use kvp_store::HeldParticipant;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::auth::Caller;
use super::extract::{Body, Id, Month, Params, QueryParams};
use super::pages::PageQuery;
use super::run_files::RunFile;
use super::{ApiResult, AppState};
use crate::client_identity::Scope;
use crate::error::{Problem, ServiceError};
use crate::payroll::HandedOffLine;

/// A grunnbeløp to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GBody {
    /// The date it takes effect (normally 1 May).
    pub effective_date: Date,
    /// The amount in kroner and øre, above 0 and at most 10 000 000 (the
    /// largest G of sense, `kvp_rules::bounds::G_MAX`).
    #[schema(
        value_type = String,
        pattern = r"^0*([1-9][0-9]{0,6}(\.[0-9]{1,2})?|10000000(\.0{1,2})?)$",
        example = "130160"
    )]
    pub value: Decimal,
    /// The decision it comes from.
    #[schema(min_length = 1, pattern = r"\S")]
    pub reference: String,
}

/// Registers a new G; the next close back-pays every affected month.
#[utoipa::path(post, path = "/v1/parameters/g", request_body = GBody,
    responses((status = 201, description = "registered"), (status = 400, body = Problem), (status = 409, body = Problem)))]
pub async fn register_g(
    State(payroll): AppState,
    caller: Caller,
    Body(body): Body<GBody>,
) -> ApiResult<Response> {
    payroll
        .register_g(
            body.effective_date,
            body.value,
            body.reference,
            &caller.actor(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"effective_date": body.effective_date, "value": body.value})),
    )
        .into_response())
}

/// The G table in force (shipped defaults overlaid with registered values).
#[utoipa::path(get, path = "/v1/parameters/g", responses((status = 200, description = "[effective date, value] pairs")))]
pub async fn list_g(State(payroll): AppState) -> ApiResult<Json<Vec<(Date, String)>>> {
    let parameters = payroll.effective_parameters().await?;
    Ok(Json(
        parameters
            .g
            .entries()
            .iter()
            .map(|(d, v)| (*d, v.to_string()))
            .collect(),
    ))
}

/// A pay run.
#[derive(Debug, Serialize, ToSchema)]
pub struct RunView {
    /// Run id.
    pub id: Uuid,
    /// Municipality.
    pub municipality_id: String,
    /// The month it pays, `YYYY-MM`.
    pub month: String,
    /// CLOSED, PARTIALLY_CONFIRMED or CONFIRMED.
    pub state: String,
    /// Participants with lines.
    pub participant_count: i32,
    /// Participants held: a month of theirs could not be computed at close,
    /// so the run pays them nothing (not in `participant_count`); a later
    /// close pays the held months once the fact is corrected.
    pub held_count: i32,
    /// The participants held, by participant id (`held_count` of them).
    pub held: Vec<HeldView>,
    /// The participants paid without an employee number registered at
    /// close, by id: their lines carry an empty `employee_number`.
    pub without_employee_number: Vec<Uuid>,
    /// Sum of all lines, two decimals.
    #[schema(value_type = String, example = "22138.05")]
    #[serde(serialize_with = "super::two_decimals")]
    pub total: Decimal,
    /// When it was closed.
    #[serde(with = "time::serde::rfc3339")]
    pub closed_at: OffsetDateTime,
}

/// A participant a run held instead of paying, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct HeldView {
    /// The participant (never their identity number).
    pub participant_id: Uuid,
    /// The first month that could not be computed, `YYYY-MM`.
    pub month: String,
    /// Why, as the rules engine said it: the fact at fault and its value.
    pub reason: String,
}

fn held_view(held: &HeldParticipant) -> HeldView {
    HeldView {
        participant_id: held.participant_id,
        month: YearMonth::of(held.month).to_string(),
        reason: held.reason.clone(),
    }
}

fn run_view(
    run: &kvp_store::PayRun,
    held: &[HeldParticipant],
    without_employee_number: Vec<Uuid>,
) -> RunView {
    RunView {
        id: run.id,
        municipality_id: run.municipality_id.clone(),
        month: YearMonth::of(run.month).to_string(),
        state: run.state.as_str().to_owned(),
        participant_count: run.participant_count,
        held_count: run.held_count,
        held: held.iter().map(held_view).collect(),
        without_employee_number,
        total: run.total,
        closed_at: run.closed_at,
    }
}

/// A municipality's pay runs, by month, each with the participants it held.
/// Paged by `limit` and `after`; the next page is in the `Link` header.
#[utoipa::path(get, path = "/v1/municipalities/{id}/runs", params(PageQuery),
    responses((status = 200, body = [RunView], headers(("Link" = String, description = "The next page, rel=\"next\"; absent on the last."))), (status = 400, body = Problem)))]
pub async fn list_runs(
    State(payroll): AppState,
    Path(id): Path<String>,
    QueryParams(page): QueryParams<PageQuery>,
    OriginalUri(uri): OriginalUri,
) -> ApiResult<Response> {
    let views: Vec<RunView> = payroll
        .runs(&id)
        .await?
        .iter()
        .map(|summary| {
            run_view(
                &summary.run,
                &summary.held,
                summary.without_employee_number.clone(),
            )
        })
        .collect();
    let limit = page.limit;
    Ok(page.page(views, |r| r.id.to_string())?.answer(&uri, limit))
}

/// The export format.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ExportFormat {
    /// `csv` (default), `jsonl`, `json` or `a-melding`.
    pub format: Option<String>,
    /// For `csv`: `point` (default) or `comma`, the decimal separator.
    pub decimal: Option<String>,
}

/// A pay run, with the participants it held and those it paid without an
/// employee number. Reading it changes nothing.
#[utoipa::path(get, path = "/v1/runs/{id}", params(("id" = String, Path)),
    responses((status = 200, body = RunView), (status = 400, body = Problem), (status = 404, body = Problem)))]
pub async fn get_run(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
) -> ApiResult<Json<RunView>> {
    // The route's access rule has let the caller read this run's municipality.
    let run = payroll.run_with_totals(id, &Scope::Unrestricted).await?;
    Ok(Json(run_view(
        &run.run,
        &run.held,
        run.without_employee_number,
    )))
}

/// One exported line as the payroll system imports it: the product's code
/// and the municipality's pay code, the quantity, the a-melding fields and
/// the accounting dimensions, all as frozen when the run closed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportLine {
    /// Run.
    pub run_id: Uuid,
    /// Participant.
    pub participant_id: Uuid,
    /// The participant's employee number (ansattnummer) in the payroll
    /// system; empty when none is registered (the JSON export lists those in
    /// `without_employee_number`).
    pub employee_number: String,
    /// The product's line code.
    pub line_code: String,
    /// The municipality's pay code (lønnsart).
    pub pay_code: String,
    /// The month the line pays or corrects (`YYYY-MM`), empty for recovery lines.
    pub attributed_month: String,
    /// The quantity in `quantity_unit`, at most four decimals (`"21"`,
    /// `"7.5"`, `"20.4667"`); on a correction the difference to what was
    /// paid. Null for lines without a unit (other benefits, recovery).
    #[schema(value_type = Option<String>, example = "21")]
    pub quantity: Option<String>,
    /// What the quantity counts: `DAYS`, `HOURS` or `CHILD_DAYS`; null with
    /// the quantity.
    #[schema(value_type = Option<String>, example = "DAYS")]
    pub quantity_unit: Option<&'static str>,
    /// Display rate, two decimals, with the amount's sign: the amount before
    /// its one rounding over the quantity, rounded to øre. Null when the
    /// quantity is null or zero. `quantity × rate` is close to `amount`, not
    /// always equal: `amount` is what is paid.
    #[schema(value_type = Option<String>, example = "988.00")]
    pub rate: Option<String>,
    /// Amount in kroner, two decimals.
    #[schema(value_type = String, example = "988.00")]
    #[serde(serialize_with = "super::two_decimals")]
    pub amount: Decimal,
    /// Always true: the stipend is taxable income.
    pub taxable: bool,
    /// A-melding income type (`pensjonEllerTrygd`).
    pub income_type: String,
    /// A-melding income description (`kvalifiseringstoenad`).
    pub income_description: String,
    /// A-melding benefit kind (fordel: `kontantytelse`).
    pub benefit_kind: String,
    /// A-melding `utloeserArbeidsgiveravgift`.
    pub employer_contribution: bool,
    /// A-melding `inngaarIGrunnlagForTrekk`.
    pub withholding_basis: bool,
    /// A-melding earning period (`YYYY-MM`): the month the line pays or
    /// corrects, the run's month for a recovery line.
    pub earning_period: String,
    /// Accounting: responsibility (ansvar); null when not booked by it.
    pub ansvar: Option<String>,
    /// Accounting: service (tjeneste); null when not booked by it.
    pub tjeneste: Option<String>,
    /// Accounting: KOSTRA function (`276`).
    pub kostra_function: String,
    /// How the amount was reached.
    pub explanation: String,
}

pub(super) fn export_line(handed: &HandedOffLine<'_>) -> ExportLine {
    let line = handed.line;
    let reporting = &handed.reporting;
    ExportLine {
        run_id: line.run_id,
        participant_id: line.participant_id,
        employee_number: handed.employee_number.clone(),
        line_code: line.line_code.as_str().to_owned(),
        pay_code: handed.pay_code.clone(),
        attributed_month: line
            .attributed_month
            .map(|m| YearMonth::of(m).to_string())
            .unwrap_or_default(),
        quantity: line.quantity.map(|q| q.value.normalize().to_string()),
        quantity_unit: line.quantity.map(|q| q.unit.as_str()),
        rate: line
            .quantity
            .and_then(|q| q.rate)
            .map(kvp_rules::format_amount),
        amount: line.amount,
        taxable: true,
        income_type: reporting.income.income_type.clone(),
        income_description: reporting.income.description.clone(),
        benefit_kind: reporting.income.benefit_kind.clone(),
        employer_contribution: reporting.employer_contribution,
        withholding_basis: reporting.income.withholding_basis,
        earning_period: handed.earning_period.to_string(),
        ansvar: reporting.accounting.ansvar.clone(),
        tjeneste: reporting.accounting.tjeneste.clone(),
        kostra_function: reporting.accounting.function.clone(),
        explanation: line.explanation.clone(),
    }
}

/// A run's export as JSON: the run (with the participants it held), and its
/// lines. Only the OpenAPI document reads this type: the export is streamed
/// in this shape by `run_files`, the lines last.
#[derive(Debug, Serialize, ToSchema)]
#[allow(
    dead_code,
    reason = "describes the OpenAPI schema of a streamed answer"
)]
pub struct RunExportView {
    /// The run, with `held_count` and `held`.
    pub run: RunView,
    /// The participants the run held, paid nothing in it (as `run.held`).
    pub held: Vec<HeldView>,
    /// The participants with lines in the run and no employee number
    /// registered: their lines carry an empty `employee_number`.
    pub without_employee_number: Vec<Uuid>,
    /// Every line, by participant and position; held participants have none.
    pub lines: Vec<ExportLine>,
}

/// The head of a run's JSON export: everything but the lines, which follow.
#[derive(Debug, Serialize)]
pub(super) struct RunExportHead {
    pub run: RunView,
    pub held: Vec<HeldView>,
    pub without_employee_number: Vec<Uuid>,
}

/// The response header giving how many participants the run held: the CSV
/// file carries pay lines only (it is what a payroll system imports), so a
/// run that held someone says so here too.
pub const HELD_COUNT_HEADER: &str = "kvp-held-count";

/// A run's lines as a file for payroll systems that import files, streamed
/// a page of lines at a time whatever the run's size.
///
/// `csv` (the default): one row per pay line, nothing else — the file a
/// payroll system imports — in the profile of `run_files.rs`: UTF-8 with a
/// byte order mark, `;`, CRLF, a header row, `decimal=comma` for a decimal
/// comma, text cells that would read as formulas prefixed with `'`.
/// `jsonl`: the same lines as JSON Lines. `json`: the run with the
/// participants it held and those without an employee number, then its
/// lines. `a-melding`: JSON Lines, one object per participant paid, ready
/// for the municipality's a-melding (described by the JSON Schema
/// `services/payroll/schemas/a-melding-participant.v1.schema.json`). Every
/// answer carries the `kvp-held-count` header: participants held, paid
/// nothing in this run.
#[utoipa::path(get, path = "/v1/runs/{id}/export", params(ExportFormat, ("id" = String, Path)),
    responses(
        (status = 200, description = "`format=json`: the run, its held participants and its lines; \
            `format=csv` (the default): text/csv, one row per pay line; `format=jsonl`: \
            application/jsonl, one line object per row; `format=a-melding`: application/jsonl, \
            one object per participant (schema a-melding-participant.v1)",
            body = RunExportView,
            headers(("kvp-held-count" = i32, description = "participants the run held (paid nothing)"))),
        (status = 400, body = Problem),
        (status = 404, body = Problem)))]
pub async fn export_run(
    State(payroll): AppState,
    Params(Id(id)): Params<Id>,
    QueryParams(q): QueryParams<ExportFormat>,
) -> ApiResult<Response> {
    let format = q.format.as_deref().unwrap_or("csv");
    let file = RunFile::named(format, q.decimal.as_deref())?;
    // The route's access rule has let the caller read this run's
    // municipality (REST has no client-certificate scope).
    let pages = payroll.pay_lines(id, &Scope::Unrestricted, None).await?;
    let run = pages.run.clone();
    let head = match file {
        RunFile::Json => {
            let (held, without_employee_number) = payroll.run_exceptions(&run).await?;
            let head = RunExportHead {
                run: run_view(&run, &held, without_employee_number.clone()),
                held: held.iter().map(held_view).collect(),
                without_employee_number,
            };
            Some(serde_json::to_vec(&head).map_err(ServiceError::internal)?)
        }
        _ => None,
    };
    let name = format!(
        "attachment; filename=\"kvp-{}-{}{}\"",
        run.municipality_id,
        YearMonth::of(run.month),
        file.file_suffix()
    );
    Ok((
        [
            (header::CONTENT_TYPE, file.content_type().to_owned()),
            (header::CONTENT_DISPOSITION, name),
            (
                axum::http::HeaderName::from_static(HELD_COUNT_HEADER),
                run.held_count.to_string(),
            ),
        ],
        super::run_files::stream(pages, file, head),
    )
        .into_response())
}

/// What was paid and corrected for one month, line by line, and what the rules
/// give for it now.
#[derive(Debug, Serialize, ToSchema)]
pub struct Payslip {
    /// The month.
    pub month: String,
    /// Every line attributed to the month, in every closed run, oldest first.
    pub paid: Vec<PaidLine>,
    /// Sum of those lines, two decimals.
    #[schema(value_type = String, example = "22138.05")]
    #[serde(serialize_with = "super::two_decimals")]
    pub paid_total: Decimal,
    /// The rules engine's current result with its explanation.
    #[schema(value_type = Object)]
    pub current: kvp_rules::MonthResult,
}

/// A line paid in a run for the month.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaidLine {
    /// The run.
    pub run_id: Uuid,
    /// The month the run paid.
    pub run_month: String,
    /// Line code.
    pub line_code: String,
    /// Amount, two decimals.
    #[schema(value_type = String, example = "988.00")]
    #[serde(serialize_with = "super::two_decimals")]
    pub amount: Decimal,
    /// How it was reached.
    pub explanation: String,
}

/// The payslip explanation of a participant's month.
#[utoipa::path(get, path = "/v1/participants/{id}/payslips/{month}", params(("id" = String, Path), ("month" = String, Path)),
    responses((status = 200, body = Payslip), (status = 400, body = Problem), (status = 404, body = Problem),
        (status = 409, description = "no programme decision, or a stored fact the rules refuse", body = Problem)))]
pub async fn payslip(
    State(payroll): AppState,
    Params(path): Params<(Id, Month)>,
) -> ApiResult<Json<Payslip>> {
    let (Id(id), Month(month)) = path;
    let statement = payroll.month_statement(id, month).await?;
    let paid = statement
        .paid
        .into_iter()
        .map(|p| PaidLine {
            run_id: p.run_id,
            run_month: p.run_month.to_string(),
            line_code: p.line.line_code.as_str().to_owned(),
            amount: p.line.amount,
            explanation: p.line.explanation,
        })
        .collect();
    Ok(Json(Payslip {
        month: month.to_string(),
        paid,
        paid_total: statement.paid_total,
        current: statement.current,
    }))
}
