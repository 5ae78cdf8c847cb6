// Row mappers, written once for both backends. Included by
// `postgres/rows.rs` and `sqlite/rows.rs`, each of which decodes the columns
// whose types differ (`read_decimal`, `read_instant`, `read_instant_opt`,
// `read_summed_amount`) and maps the audit chain's links itself.

fn stored<T>(row: &DbRow, column: &str) -> Result<T, StoreError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    let text: String = row.try_get(column)?;
    parse_stored(&text)
}

pub(super) fn municipality(row: &DbRow) -> Result<Municipality, StoreError> {
    Ok(Municipality {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        policy_overrides: row.try_get("policy_overrides")?,
        pay_codes: row.try_get("pay_codes")?,
        handoff: handoff_settings(row)?,
        version: row.try_get("version")?,
    })
}

/// A municipality's handoff settings (a JSON document; absent fields default).
fn handoff_settings(row: &DbRow) -> Result<HandoffSettings, StoreError> {
    let value: serde_json::Value = row.try_get("handoff")?;
    serde_json::from_value(value)
        .map_err(|_| StoreError::corrupt("column handoff is not handoff settings"))
}

pub(super) fn participant(row: &DbRow) -> Result<Participant, StoreError> {
    Ok(Participant {
        id: row.try_get("id")?,
        municipality_id: row.try_get("municipality_id")?,
        nin_lookup: row.try_get("nin_lookup")?,
        nin_sealed: row.try_get("nin_sealed")?,
        birth_date: row.try_get("birth_date")?,
        display_name: row.try_get("display_name")?,
        created_at: read_instant(row, "created_at")?,
    })
}

pub(super) fn child(row: &DbRow) -> Result<Child, StoreError> {
    Ok(Child {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        birth_date: row.try_get("birth_date")?,
        reference: row.try_get("reference")?,
    })
}

pub(super) fn sole_carer_period(row: &DbRow) -> Result<SoleCarerPeriod, StoreError> {
    Ok(SoleCarerPeriod {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        from: row.try_get("from_date")?,
        to: row.try_get("to_date")?,
    })
}

pub(super) fn benefit_offset(row: &DbRow) -> Result<BenefitOffset, StoreError> {
    Ok(BenefitOffset {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        month: row.try_get("month")?,
        kind: stored(row, "kind")?,
        amount: read_decimal(row, "amount")?,
    })
}

pub(super) fn programme(row: &DbRow) -> Result<Programme, StoreError> {
    Ok(Programme {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        start: row.try_get("start_date")?,
        end: row.try_get("end_date")?,
        decision_reference: row.try_get("decision_reference")?,
        decided_at: read_instant(row, "decided_at")?,
        version: row.try_get("version")?,
    })
}

pub(super) fn pause(row: &DbRow) -> Result<Pause, StoreError> {
    Ok(Pause {
        id: row.try_get("id")?,
        programme_id: row.try_get("programme_id")?,
        from: row.try_get("from_date")?,
        to: row.try_get("to_date")?,
        kind: stored(row, "kind")?,
        reference: row.try_get("reference")?,
    })
}

pub(super) fn signer_key(row: &DbRow) -> Result<SignerKey, StoreError> {
    Ok(SignerKey {
        keyid: row.try_get("keyid")?,
        person_id: row.try_get("person_id")?,
        participant_id: row.try_get("participant_id")?,
        role: stored(row, "role")?,
        public_key: row.try_get("public_key")?,
        valid_from: read_instant(row, "valid_from")?,
        valid_until: read_instant_opt(row, "valid_until")?,
        revoked_at: read_instant_opt(row, "revoked_at")?,
        revocation_reason: row.try_get("revocation_reason")?,
        registered_at: read_instant(row, "registered_at")?,
        municipality_id: row.try_get("municipality_id")?,
    })
}

pub(super) fn timesheet(row: &DbRow) -> Result<Timesheet, StoreError> {
    Ok(Timesheet {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        municipality_id: row.try_get("municipality_id")?,
        digest: row.try_get("digest")?,
        envelope: row.try_get("envelope")?,
        period_from: row.try_get("period_from")?,
        period_to: row.try_get("period_to")?,
        version: row.try_get("version")?,
        supersedes: row.try_get("supersedes")?,
        status: stored(row, "status")?,
        assessment: row.try_get("assessment")?,
        received_at: read_instant(row, "received_at")?,
    })
}

pub(super) fn timesheet_period(row: &DbRow) -> Result<TimesheetPeriod, StoreError> {
    Ok(TimesheetPeriod {
        id: row.try_get("id")?,
        period_from: row.try_get("period_from")?,
        period_to: row.try_get("period_to")?,
        version: row.try_get("version")?,
    })
}

pub(super) fn day_entry(row: &DbRow) -> Result<DayEntry, StoreError> {
    Ok(DayEntry {
        timesheet_id: row.try_get("timesheet_id")?,
        participant_id: row.try_get("participant_id")?,
        date: row.try_get("date")?,
        seq: row.try_get("seq")?,
        kind: stored(row, "kind")?,
        hours: read_decimal(row, "hours")?,
        note: row.try_get("note")?,
    })
}

pub(super) fn sanction_decision(row: &DbRow) -> Result<SanctionDecision, StoreError> {
    Ok(SanctionDecision {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        date: row.try_get("date")?,
        entry_kind: stored(row, "entry_kind")?,
        outcome: stored(row, "outcome")?,
        decided_at: read_instant(row, "decided_at")?,
        decided_by: row.try_get("decided_by")?,
        reference: row.try_get("reference")?,
        reason: row.try_get("reason")?,
        legal_basis: row.try_get("legal_basis")?,
        appeal_deadline: row.try_get("appeal_deadline")?,
        warning_id: row.try_get("warning_id")?,
        deducted_hours: read_optional_decimal(row, "deducted_hours")?,
    })
}

pub(super) fn employee_number(row: &DbRow) -> Result<EmployeeNumber, StoreError> {
    Ok(EmployeeNumber {
        participant_id: row.try_get("participant_id")?,
        municipality_id: row.try_get("municipality_id")?,
        employee_number: row.try_get("employee_number")?,
        version: row.try_get("version")?,
        registered_at: read_instant(row, "registered_at")?,
        registered_by: row.try_get("registered_by")?,
    })
}

pub(super) fn programme_extension(row: &DbRow) -> Result<ProgrammeExtension, StoreError> {
    Ok(ProgrammeExtension {
        id: row.try_get("id")?,
        programme_id: row.try_get("programme_id")?,
        until: row.try_get("until")?,
        exception: row.try_get("exception")?,
        reference: row.try_get("reference")?,
        decided_at: read_instant(row, "decided_at")?,
        decided_by: row.try_get("decided_by")?,
    })
}

/// A warning without its days (read apart).
pub(super) fn sanction_warning(row: &DbRow) -> Result<SanctionWarning, StoreError> {
    Ok(SanctionWarning {
        id: row.try_get("id")?,
        participant_id: row.try_get("participant_id")?,
        given_on: row.try_get("given_on")?,
        channel: stored(row, "channel")?,
        reference: row.try_get("reference")?,
        days: Vec::new(),
        recorded_by: row.try_get("recorded_by")?,
        recorded_at: read_instant(row, "recorded_at")?,
    })
}

/// A day a warning concerns, with the warning's id.
pub(super) fn warned_day(row: &DbRow) -> Result<(Uuid, WarnedDay), StoreError> {
    Ok((
        row.try_get("warning_id")?,
        WarnedDay {
            date: row.try_get("date")?,
            entry_kind: stored(row, "entry_kind")?,
            hours: read_decimal(row, "hours")?,
        },
    ))
}

pub(super) fn sanction_appeal(row: &DbRow) -> Result<SanctionAppeal, StoreError> {
    let outcome: Option<String> = row.try_get("outcome")?;
    Ok(SanctionAppeal {
        id: row.try_get("id")?,
        decision_id: row.try_get("decision_id")?,
        participant_id: row.try_get("participant_id")?,
        received_on: row.try_get("received_on")?,
        reference: row.try_get("reference")?,
        recorded_by: row.try_get("recorded_by")?,
        recorded_at: read_instant(row, "recorded_at")?,
        outcome: outcome.as_deref().map(parse_stored).transpose()?,
        decided_on: row.try_get("decided_on")?,
        outcome_reference: row.try_get("outcome_reference")?,
    })
}

pub(super) fn audit_entry(row: &DbRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        at: read_instant(row, "at")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        subject_type: row.try_get("subject_type")?,
        subject_id: row.try_get("subject_id")?,
        details: row.try_get("details")?,
    })
}

pub(super) fn pay_run(row: &DbRow) -> Result<PayRun, StoreError> {
    Ok(PayRun {
        id: row.try_get("id")?,
        municipality_id: row.try_get("municipality_id")?,
        month: row.try_get("month")?,
        state: stored(row, "state")?,
        closed_at: read_instant(row, "closed_at")?,
        participant_count: row.try_get("participant_count")?,
        held_count: row.try_get("held_count")?,
        total: read_decimal(row, "total")?,
    })
}

pub(super) fn held_participant(row: &DbRow) -> Result<HeldParticipant, StoreError> {
    Ok(HeldParticipant {
        run_id: row.try_get("run_id")?,
        participant_id: row.try_get("participant_id")?,
        month: row.try_get("month")?,
        reason: row.try_get("reason")?,
    })
}

pub(super) fn pay_line(row: &DbRow) -> Result<PayLine, StoreError> {
    Ok(PayLine {
        id: row.try_get("id")?,
        run_id: row.try_get("run_id")?,
        participant_id: row.try_get("participant_id")?,
        seq: row.try_get("seq")?,
        line_code: stored(row, "line_code")?,
        attributed_month: row.try_get("attributed_month")?,
        quantity: line_quantity(row)?,
        amount: read_decimal(row, "amount")?,
        explanation: row.try_get("explanation")?,
        pay_code: row.try_get("pay_code")?,
        employee_number: row.try_get("employee_number")?,
        reporting: line_reporting(row)?,
    })
}

/// A line's quantity: none without a unit. The rate of a zero quantity is
/// none (it divides nothing), so a stored 0 rate is not read.
fn line_quantity(row: &DbRow) -> Result<Option<LineQuantity>, StoreError> {
    let Some(unit) = row.try_get::<Option<String>, _>("quantity_unit")? else {
        return Ok(None);
    };
    let unit = QuantityUnit::parse(&unit)
        .ok_or_else(|| StoreError::corrupt("column quantity_unit is not a unit"))?;
    let value = read_decimal(row, "quantity")?;
    let rate = if value.is_zero() {
        None
    } else {
        Some(read_decimal(row, "rate")?)
    };
    Ok(Some(LineQuantity { value, unit, rate }))
}

/// How a line is reported and booked; none on lines closed before it was kept.
fn line_reporting(row: &DbRow) -> Result<Option<LineReporting>, StoreError> {
    let Some(income_type) = row.try_get::<Option<String>, _>("income_type")? else {
        return Ok(None);
    };
    let required = |column: &str| -> Result<String, StoreError> {
        row.try_get::<Option<String>, _>(column)?
            .ok_or_else(|| StoreError::corrupt(format!("column {column} is empty on a frozen line")))
    };
    let flag = |column: &str| -> Result<bool, StoreError> {
        row.try_get::<Option<bool>, _>(column)?
            .ok_or_else(|| StoreError::corrupt(format!("column {column} is empty on a frozen line")))
    };
    Ok(Some(LineReporting {
        income: IncomeCoding {
            income_type,
            description: required("income_description")?,
            benefit_kind: required("benefit_kind")?,
            withholding_basis: flag("withholding_basis")?,
        },
        employer_contribution: flag("employer_contribution")?,
        accounting: Accounting {
            ansvar: row.try_get("ansvar")?,
            tjeneste: row.try_get("tjeneste")?,
            function: required("kostra_function")?,
        },
    }))
}

pub(super) fn ledger_entry(row: &DbRow) -> Result<LedgerEntry, StoreError> {
    Ok(LedgerEntry {
        participant_id: row.try_get("participant_id")?,
        attributed_month: row.try_get("attributed_month")?,
        line_code: stored(row, "line_code")?,
        amount: read_summed_amount(row)?,
        quantity: read_summed_quantity(row)?,
    })
}

pub(super) fn attributed_amount(
    row: &DbRow,
) -> Result<(Option<time::Date>, Decimal), StoreError> {
    Ok((row.try_get("attributed_month")?, read_summed_amount(row)?))
}

pub(super) fn line_total(row: &DbRow) -> Result<LineTotal, StoreError> {
    Ok(LineTotal {
        line_code: stored(row, "line_code")?,
        of_run_month: row.try_get("of_run_month")?,
        line_count: row.try_get("line_count")?,
        amount: read_summed_amount(row)?,
    })
}

pub(super) fn confirmation(row: &DbRow) -> Result<Confirmation, StoreError> {
    Ok(Confirmation {
        run_id: row.try_get("run_id")?,
        participant_id: row.try_get("participant_id")?,
        gross: read_decimal(row, "gross")?,
        tax_withheld: read_decimal(row, "tax_withheld")?,
        net_paid: read_decimal(row, "net_paid")?,
        outcome: stored(row, "outcome")?,
        failure_reason: row.try_get("failure_reason")?,
        payment_date: row.try_get("payment_date")?,
        confirmed_at: read_instant(row, "confirmed_at")?,
    })
}

pub(super) fn registered_g(row: &DbRow) -> Result<RegisteredG, StoreError> {
    Ok(RegisteredG {
        effective_date: row.try_get("effective_date")?,
        value: read_decimal(row, "value")?,
        reference: row.try_get("reference")?,
        registered_at: read_instant(row, "registered_at")?,
    })
}

pub(super) fn outbox_event(row: &DbRow) -> Result<OutboxEvent, StoreError> {
    Ok(OutboxEvent {
        id: row.try_get("id")?,
        event_type: row.try_get("event_type")?,
        source: row.try_get("source")?,
        subject: row.try_get("subject")?,
        payload: row.try_get("payload")?,
        created_at: read_instant(row, "created_at")?,
        attempts: row.try_get("attempts")?,
        available_at: read_instant(row, "available_at")?,
        delivered_at: read_instant_opt(row, "delivered_at")?,
        last_error: row.try_get("last_error")?,
        traceparent: row.try_get("traceparent")?,
    })
}

/// Maps every row, stopping at the first that cannot be read.
pub(super) fn idempotency_record(row: &DbRow) -> Result<IdempotencyRecord, StoreError> {
    let subject_type: Option<String> = row.try_get("subject_type")?;
    let subject_id: Option<String> = row.try_get("subject_id")?;
    let status: Option<i32> = row.try_get("answer_status")?;
    let answer = match status {
        Some(status) => Some(IdempotentAnswer {
            status: u16::try_from(status)
                .map_err(|_| StoreError::corrupt(format!("idempotency_keys.answer_status {status}")))?,
            content_type: row
                .try_get::<Option<String>, _>("answer_content_type")?
                .unwrap_or_default(),
            body: row
                .try_get::<Option<Vec<u8>>, _>("answer_body")?
                .unwrap_or_default(),
        }),
        None => None,
    };
    Ok(IdempotencyRecord {
        request_hash: row.try_get("request_hash")?,
        request_id: row.try_get("request_id")?,
        subject: subject_type.zip(subject_id),
        created_at: read_instant(row, "created_at")?,
        answer,
    })
}

pub(super) fn all<T>(
    rows: Vec<DbRow>,
    map: fn(&DbRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(map).collect()
}

pub(super) fn fact_version(row: &DbRow) -> Result<FactVersion, StoreError> {
    let content: String = row.try_get("content")?;
    Ok(FactVersion {
        kind: stored(row, "fact_type")?,
        fact_id: row.try_get("fact_id")?,
        participant_id: row.try_get("participant_id")?,
        version: row.try_get("version")?,
        change: stored(row, "change")?,
        content: serde_json::from_str(&content)
            .map_err(|_| StoreError::corrupt("a fact version's content is not a fact"))?,
        reason: row.try_get("reason")?,
        recorded_by: row.try_get("recorded_by")?,
        recorded_at: read_instant(row, "recorded_at")?,
    })
}
