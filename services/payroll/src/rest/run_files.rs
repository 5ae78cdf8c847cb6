//! A run's lines as files payroll systems import, streamed a page at a time
//! so that a run of any size leaves in flat memory.
//!
//! The CSV profile (what Norwegian payroll imports accept): UTF-8 with a byte
//! order mark, `;` between cells, CRLF after each row, quotes only where a
//! cell needs them, a header row first; amounts with a decimal point, or a
//! decimal comma on request (`decimal=comma`); a text cell a spreadsheet would
//! read as a formula (one starting with `=`, `+`, `-`, `@`, a tab or a
//! carriage return) is prefixed with `'`. JSON Lines: one line object per
//! row, as the JSON export writes them.

use axum::body::{Body, Bytes};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::periods::ExportLine;
use crate::error::ServiceError;
use crate::payroll::PayLinePages;

/// The file formats streamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunFile {
    /// The CSV profile, with a decimal comma when `true`.
    Csv {
        /// `988,00` rather than `988.00`.
        decimal_comma: bool,
    },
    /// JSON Lines.
    JsonLines,
}

/// The CSV header row.
const COLUMNS: [&str; 13] = [
    "run_id",
    "participant_id",
    "employee_number",
    "line_code",
    "pay_code",
    "attributed_month",
    "quantity",
    "rate",
    "amount",
    "taxable",
    "income_type",
    "income_description",
    "explanation",
];

/// Pages a run's lines into the body of a response, in `format`. A failure
/// after the first byte ends the body early (the status is sent already):
/// the client sees a truncated file, never a complete-looking wrong one.
pub fn stream(mut pages: PayLinePages, format: RunFile) -> Body {
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        if let RunFile::Csv { .. } = format {
            let mut head = "\u{feff}".as_bytes().to_vec();
            head.extend(csv_rows(std::iter::once(
                COLUMNS.map(str::to_owned).to_vec(),
            )));
            if sender.send(Ok(Bytes::from(head))).await.is_err() {
                return;
            }
        }
        loop {
            let page = match pages.next_page().await {
                Ok(page) if page.is_empty() => return,
                Ok(page) => page,
                Err(error) => {
                    tracing::error!(error = %error, "a run's export ended early");
                    let _ = sender
                        .send(Err(std::io::Error::other("export failed")))
                        .await;
                    return;
                }
            };
            let lines = page
                .iter()
                .map(|l| super::periods::export_line(l, &pages.pay_codes, &pages.employee_numbers));
            let chunk = match format {
                RunFile::Csv { decimal_comma } => {
                    Ok(csv_rows(lines.map(|l| csv_cells(&l, decimal_comma))))
                }
                RunFile::JsonLines => json_lines(lines),
            };
            if sender.send(chunk.map(Bytes::from)).await.is_err() {
                return;
            }
        }
    });
    Body::from_stream(ReceiverStream::new(receiver))
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

/// One line's cells, in the order of [`COLUMNS`].
fn csv_cells(line: &ExportLine, decimal_comma: bool) -> Vec<String> {
    let number = |text: String| {
        if decimal_comma {
            text.replace('.', ",")
        } else {
            text
        }
    };
    vec![
        line.run_id.to_string(),
        line.participant_id.to_string(),
        text_cell(&line.employee_number),
        line.line_code.clone(),
        text_cell(&line.pay_code),
        line.attributed_month.clone(),
        number(line.quantity.to_string()),
        number(kvp_rules::format_amount(line.rate)),
        number(kvp_rules::format_amount(line.amount)),
        line.taxable.to_string(),
        line.income_type.to_owned(),
        line.income_description.to_owned(),
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

/// Lines as JSON Lines.
fn json_lines(lines: impl Iterator<Item = ExportLine>) -> Result<Vec<u8>, std::io::Error> {
    let mut out = Vec::new();
    for line in lines {
        serde_json::to_writer(&mut out, &line).map_err(std::io::Error::other)?;
        out.push(b'\n');
    }
    Ok(out)
}

impl RunFile {
    /// The format a request names (`format`, `decimal`).
    pub fn named(format: &str, decimal: Option<&str>) -> Result<Option<Self>, ServiceError> {
        let decimal_comma = match decimal {
            None | Some("point") => false,
            Some("comma") => true,
            Some(_) => return Err(ServiceError::field("decimal", "must be point or comma")),
        };
        Ok(match format {
            "csv" => Some(Self::Csv { decimal_comma }),
            "jsonl" => Some(Self::JsonLines),
            _ => None,
        })
    }

    /// The media type of the file.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Csv { .. } => "text/csv; charset=utf-8",
            Self::JsonLines => "application/jsonl",
        }
    }

    /// The file name's extension.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Csv { .. } => "csv",
            Self::JsonLines => "jsonl",
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
            Some(RunFile::Csv {
                decimal_comma: true
            })
        );
        assert_eq!(
            RunFile::named("jsonl", None).unwrap(),
            Some(RunFile::JsonLines)
        );
        assert_eq!(RunFile::named("json", None).unwrap(), None);
        assert!(RunFile::named("csv", Some("dot")).is_err());
    }
}
