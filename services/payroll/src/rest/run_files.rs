//! A run's lines as files payroll systems import, streamed a page at a time
//! so that a run of any size leaves in flat memory.
//!
//! The CSV profile (what Norwegian payroll imports accept): UTF-8 with a byte
//! order mark, `;` between cells, CRLF after each row, quotes only where a
//! cell needs them, a header row first; amounts with a decimal point, or a
//! decimal comma on request (`decimal=comma`); a text cell a spreadsheet would
//! read as a formula (one starting with `=`, `+`, `-`, `@`, a tab or a
//! carriage return) is prefixed with `'`; an absent value (a line without a
//! quantity) is an empty cell. JSON Lines: one line object per row, as the
//! JSON export writes them. The a-melding file: one object per participant,
//! their lines summed per earning period as the a-melding reports income.

use std::collections::BTreeMap;

use axum::body::{Body, Bytes};
use kvp_rules::YearMonth;
use kvp_store::PayLine;
use rust_decimal::Decimal;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use uuid::Uuid;

use super::periods::{ExportLine, export_line};
use crate::error::ServiceError;
use crate::payroll::{LineReader, ParticipantGroups, PayLinePages};

/// The file formats streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunFile {
    /// The CSV profile, with a decimal comma when `true`.
    Csv {
        /// `988,00` rather than `988.00`.
        decimal_comma: bool,
    },
    /// JSON Lines, one line object per row.
    JsonLines,
    /// One JSON document: a head (the run, held participants, those without
    /// an employee number), then `"lines"`.
    Json,
    /// JSON Lines, one a-melding-ready object per participant
    /// (`schemas/a-melding-participant.v1.schema.json`).
    AMelding,
}

/// The CSV header row.
const COLUMNS: [&str; 21] = [
    "run_id",
    "participant_id",
    "employee_number",
    "line_code",
    "pay_code",
    "attributed_month",
    "earning_period",
    "quantity",
    "quantity_unit",
    "rate",
    "amount",
    "taxable",
    "income_type",
    "income_description",
    "benefit_kind",
    "employer_contribution",
    "withholding_basis",
    "ansvar",
    "tjeneste",
    "kostra_function",
    "explanation",
];

/// Pages a run's lines into the body of a response, in `format`; `head`
/// opens a JSON document. A failure after the first byte ends the body
/// early (the status is sent already): the client sees a truncated file,
/// never a complete-looking wrong one.
pub fn stream(mut pages: PayLinePages, format: RunFile, head: Option<Vec<u8>>) -> Body {
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        let mut writer = FileWriter::new(format, head);
        if sender
            .send(Ok(Bytes::from(writer.opening())))
            .await
            .is_err()
        {
            return;
        }
        loop {
            let page = match pages.next_page().await {
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(error = %error, "a run's export ended early");
                    let _ = sender
                        .send(Err(std::io::Error::other("export failed")))
                        .await;
                    return;
                }
            };
            let last = page.is_empty();
            let chunk = if last {
                writer.closing(&pages.reader)
            } else {
                writer.page(page, &pages.reader)
            };
            if sender.send(chunk.map(Bytes::from)).await.is_err() || last {
                return;
            }
        }
    });
    Body::from_stream(ReceiverStream::new(receiver))
}

/// Writes a file a page at a time.
struct FileWriter {
    format: RunFile,
    head: Option<Vec<u8>>,
    /// For JSON: whether a line was written (the next needs a comma).
    wrote_line: bool,
    /// For the a-melding: the participant whose lines may go on in the next page.
    groups: ParticipantGroups,
}

impl FileWriter {
    fn new(format: RunFile, head: Option<Vec<u8>>) -> Self {
        Self {
            format,
            head,
            wrote_line: false,
            groups: ParticipantGroups::default(),
        }
    }

    /// What comes before the first line.
    fn opening(&mut self) -> Vec<u8> {
        match self.format {
            RunFile::Csv { .. } => {
                let mut head = "\u{feff}".as_bytes().to_vec();
                head.extend(csv_rows(std::iter::once(
                    COLUMNS.map(str::to_owned).to_vec(),
                )));
                head
            }
            RunFile::Json => {
                // The head object without its closing brace, then the lines.
                let mut head = self.head.take().unwrap_or_else(|| b"{}".to_vec());
                head.pop();
                if head.len() > 1 {
                    head.push(b',');
                }
                head.extend_from_slice(b"\"lines\":[");
                head
            }
            RunFile::JsonLines | RunFile::AMelding => Vec::new(),
        }
    }

    /// A page of lines.
    fn page(&mut self, page: Vec<PayLine>, reader: &LineReader) -> Result<Vec<u8>, std::io::Error> {
        match self.format {
            RunFile::Csv { decimal_comma } => {
                Ok(csv_rows(page.iter().map(|line| {
                    csv_cells(&export_line(&reader.read(line)), decimal_comma)
                })))
            }
            RunFile::JsonLines => json_lines(page.iter().map(|l| export_line(&reader.read(l)))),
            RunFile::Json => {
                let mut out = Vec::new();
                for line in &page {
                    if self.wrote_line {
                        out.push(b',');
                    }
                    self.wrote_line = true;
                    serde_json::to_writer(&mut out, &export_line(&reader.read(line)))
                        .map_err(std::io::Error::other)?;
                }
                Ok(out)
            }
            RunFile::AMelding => {
                let done = self.groups.add(page);
                json_lines(done.iter().map(|lines| a_melding(lines, reader)))
            }
        }
    }

    /// What comes after the last line.
    fn closing(&mut self, reader: &LineReader) -> Result<Vec<u8>, std::io::Error> {
        match self.format {
            RunFile::Json => Ok(b"]}".to_vec()),
            RunFile::AMelding => {
                let last = std::mem::take(&mut self.groups).finish();
                json_lines(last.iter().map(|lines| a_melding(lines, reader)))
            }
            RunFile::Csv { .. } | RunFile::JsonLines => Ok(Vec::new()),
        }
    }
}

/// One participant's income in a run, as the a-melding reports it
/// (`schemas/a-melding-participant.v1.schema.json`).
#[derive(Debug, Serialize)]
struct AMeldingParticipant {
    run_id: Uuid,
    municipality_id: String,
    run_month: String,
    participant_id: Uuid,
    /// Null when none is registered.
    employee_number: Option<String>,
    /// Per earning period and coding: the lines summed.
    inntekt: Vec<Inntekt>,
    /// The sum of `inntekt`, two decimals.
    total: String,
}

/// One income entry (`inntekt`), named as the a-melding names its fields.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Inntekt {
    fordel: String,
    utloeser_arbeidsgiveravgift: bool,
    inngaar_i_grunnlag_for_trekk: bool,
    beloep: String,
    opptjeningsperiode: Opptjeningsperiode,
    /// The income type's element, holding the description.
    #[serde(flatten)]
    income: BTreeMap<String, Beskrivelse>,
    /// The pay codes of the lines summed, for the payroll clerk.
    pay_codes: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Opptjeningsperiode {
    startdato: String,
    sluttdato: String,
}

#[derive(Debug, Serialize)]
struct Beskrivelse {
    beskrivelse: String,
}

/// A participant's lines (one group, all of one participant) as their
/// a-melding income: summed per earning period and coding, exactly (each
/// line is whole øre).
fn a_melding(lines: &[PayLine], reader: &LineReader) -> AMeldingParticipant {
    type Key = (YearMonth, String, String, String, bool, bool);
    let mut sums: BTreeMap<Key, (Decimal, Vec<String>)> = BTreeMap::new();
    let mut employee_number = String::new();
    for line in lines {
        let handed = reader.read(line);
        employee_number = handed.employee_number.clone();
        let coding = &handed.reporting.income;
        let key = (
            handed.earning_period,
            coding.income_type.clone(),
            coding.description.clone(),
            coding.benefit_kind.clone(),
            handed.reporting.employer_contribution,
            coding.withholding_basis,
        );
        let (sum, codes) = sums.entry(key).or_default();
        *sum += line.amount;
        if !codes.contains(&handed.pay_code) {
            codes.push(handed.pay_code);
        }
    }
    let total: Decimal = sums.values().map(|(sum, _)| *sum).sum();
    let first = &lines[0];
    let inntekt = sums
        .into_iter()
        .map(
            |((period, income_type, description, fordel, employer, withholding), (sum, codes))| {
                Inntekt {
                    fordel,
                    utloeser_arbeidsgiveravgift: employer,
                    inngaar_i_grunnlag_for_trekk: withholding,
                    beloep: kvp_rules::format_amount(sum),
                    opptjeningsperiode: Opptjeningsperiode {
                        startdato: period.first_day().to_string(),
                        sluttdato: period.last_day().to_string(),
                    },
                    income: BTreeMap::from([(
                        income_type,
                        Beskrivelse {
                            beskrivelse: description,
                        },
                    )]),
                    pay_codes: codes,
                }
            },
        )
        .collect();
    AMeldingParticipant {
        run_id: first.run_id,
        municipality_id: reader.municipality_id().to_owned(),
        run_month: reader.run_month().to_string(),
        participant_id: first.participant_id,
        employee_number: (!employee_number.is_empty()).then_some(employee_number),
        inntekt,
        total: kvp_rules::format_amount(total),
    }
}

/// Rows in the CSV profile.
fn csv_rows(rows: impl Iterator<Item = Vec<String>>) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for row in rows {
        // Writing to a Vec cannot fail.
        let _ = writer.write_record(&row);
    }
    writer.into_inner().unwrap_or_default()
}

/// One line's cells, in the order of [`COLUMNS`]; an absent value is an
/// empty cell.
fn csv_cells(line: &ExportLine, decimal_comma: bool) -> Vec<String> {
    let number = |text: String| {
        if decimal_comma {
            text.replace('.', ",")
        } else {
            text
        }
    };
    let text = |value: &Option<String>| value.as_deref().map(text_cell).unwrap_or_default();
    vec![
        line.run_id.to_string(),
        line.participant_id.to_string(),
        text_cell(&line.employee_number),
        line.line_code.clone(),
        text_cell(&line.pay_code),
        line.attributed_month.clone(),
        line.earning_period.clone(),
        number(line.quantity.clone().unwrap_or_default()),
        line.quantity_unit.unwrap_or_default().to_owned(),
        number(line.rate.clone().unwrap_or_default()),
        number(kvp_rules::format_amount(line.amount)),
        line.taxable.to_string(),
        text_cell(&line.income_type),
        text_cell(&line.income_description),
        text_cell(&line.benefit_kind),
        line.employer_contribution.to_string(),
        line.withholding_basis.to_string(),
        text(&line.ansvar),
        text(&line.tjeneste),
        text_cell(&line.kostra_function),
        text_cell(&line.explanation),
    ]
}

/// A text cell that a spreadsheet will not take for a formula.
fn text_cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// Objects as JSON Lines.
fn json_lines<T: Serialize>(lines: impl Iterator<Item = T>) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut out, &line).map_err(std::io::Error::other)?;
        out.push(b'\n');
    }
    Ok(out)
}

impl RunFile {
    /// The format a request names (`format`, `decimal`).
    pub fn named(format: &str, decimal: Option<&str>) -> Result<Self, ServiceError> {
        let decimal_comma = match decimal {
            None | Some("point") => false,
            Some("comma") => true,
            Some(_) => return Err(ServiceError::field("decimal", "must be point or comma")),
        };
        if decimal_comma && format != "csv" {
            return Err(ServiceError::field("decimal", "applies to format=csv only"));
        }
        match format {
            "csv" => Ok(Self::Csv { decimal_comma }),
            "jsonl" => Ok(Self::JsonLines),
            "json" => Ok(Self::Json),
            "a-melding" => Ok(Self::AMelding),
            _ => Err(ServiceError::field(
                "format",
                "must be csv, jsonl, json or a-melding",
            )),
        }
    }

    /// The media type of the file.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv { .. } => "text/csv; charset=utf-8",
            Self::JsonLines | Self::AMelding => "application/jsonl",
            Self::Json => "application/json",
        }
    }

    /// The end of the file's name.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Self::Csv { .. } => ".csv",
            Self::JsonLines => ".jsonl",
            Self::Json => ".json",
            Self::AMelding => "-a-melding.jsonl",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_follow_the_profile() {
        assert_eq!(text_cell("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(text_cell("-1"), "'-1");
        assert_eq!(text_cell("1101"), "1101");
        let rows = csv_rows(
            [
                vec!["a;b".to_owned(), "c\"d".to_owned(), "e".to_owned()],
                vec!["1".to_owned(), String::new(), "x y".to_owned()],
            ]
            .into_iter(),
        );
        assert_eq!(
            String::from_utf8(rows).unwrap(),
            "\"a;b\";\"c\"\"d\";e\r\n1;;x y\r\n"
        );
    }

    #[test]
    fn formats_are_named_by_the_request() {
        assert_eq!(
            RunFile::named("csv", Some("comma")).unwrap(),
            RunFile::Csv {
                decimal_comma: true
            }
        );
        assert_eq!(RunFile::named("jsonl", None).unwrap(), RunFile::JsonLines);
        assert_eq!(RunFile::named("json", None).unwrap(), RunFile::Json);
        assert_eq!(
            RunFile::named("a-melding", Some("point")).unwrap(),
            RunFile::AMelding
        );
        assert!(RunFile::named("csv", Some("dot")).is_err());
        assert!(RunFile::named("json", Some("comma")).is_err());
        assert!(RunFile::named("xml", None).is_err());
    }
}
