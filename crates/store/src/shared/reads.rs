// Reads the write paths of several areas share, written once for both
// backends. Included by `postgres/mod.rs` and `sqlite/mod.rs`, whose
// connection type (`Conn`), row mappers and constraint names it uses.

async fn select_run(conn: &mut Conn, id: Uuid) -> Result<Option<PayRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        pay_run_columns!(),
        " FROM pay_runs WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::pay_run).transpose()
}

async fn select_run_by_month(
    conn: &mut Conn,
    municipality_id: &str,
    month: Date,
) -> Result<Option<PayRun>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        pay_run_columns!(),
        " FROM pay_runs WHERE municipality_id = $1 AND month = $2"
    ))
    .bind(municipality_id)
    .bind(month)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::pay_run).transpose()
}

/// What a foreign-key failure means when the only reference is the participant.
fn participant_missing(id: Uuid) -> impl FnOnce(Violation<'_>) -> Option<StoreError> {
    move |violation| match violation {
        Violation::ForeignKey(_) => Some(StoreError::not_found("participant", id)),
        _ => None,
    }
}

async fn select_participant(conn: &mut Conn, id: Uuid) -> Result<Participant, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        participant_columns!(),
        " FROM participants WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::participant(&row),
        None => Err(StoreError::not_found("participant", id)),
    }
}

async fn select_programme(conn: &mut Conn, id: Uuid) -> Result<Programme, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        programme_columns!(),
        " FROM programmes WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::programme(&row),
        None => Err(StoreError::not_found("programme", id)),
    }
}

async fn select_signer_key(conn: &mut Conn, keyid: &str) -> Result<SignerKey, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        signer_key_columns!(),
        " FROM signer_keys WHERE keyid = $1"
    ))
    .bind(keyid)
    .fetch_optional(conn)
    .await?;
    match row {
        Some(row) => rows::signer_key(&row),
        None => Err(StoreError::not_found("signer key", keyid)),
    }
}

async fn select_timesheet_by_digest(
    conn: &mut Conn,
    digest: &str,
) -> Result<Option<Timesheet>, StoreError> {
    let row = sqlx::query(concat!(
        "SELECT ",
        timesheet_columns!(),
        " FROM timesheets WHERE digest = $1"
    ))
    .bind(digest)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(rows::timesheet).transpose()
}

async fn select_children(conn: &mut Conn, participant_id: Uuid) -> Result<Vec<Child>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, birth_date, reference FROM children \
         WHERE participant_id = $1 ORDER BY birth_date, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::child)
}

async fn select_sole_carer_periods(
    conn: &mut Conn,
    participant_id: Uuid,
) -> Result<Vec<SoleCarerPeriod>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, from_date, to_date FROM sole_carer_periods \
         WHERE participant_id = $1 ORDER BY from_date, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::sole_carer_period)
}

async fn select_benefit_offsets(
    conn: &mut Conn,
    participant_id: Uuid,
) -> Result<Vec<BenefitOffset>, StoreError> {
    let found = sqlx::query(
        "SELECT id, participant_id, month, kind, amount FROM benefit_offsets \
         WHERE participant_id = $1 ORDER BY month, kind, id",
    )
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::benefit_offset)
}

async fn select_decisions(
    conn: &mut Conn,
    participant_id: Uuid,
) -> Result<Vec<SanctionDecision>, StoreError> {
    let found = sqlx::query(concat!(
        "SELECT ",
        decision_columns!(),
        " FROM sanction_decisions WHERE participant_id = $1 ORDER BY date, entry_kind"
    ))
    .bind(participant_id)
    .fetch_all(conn)
    .await?;
    rows::all(found, rows::sanction_decision)
}

/// A participant's programmes with their pauses, by start (the pauses read
/// as the backend's `select_pauses` reads them).
async fn select_programmes(
    conn: &mut Conn,
    participant_id: Uuid,
) -> Result<Vec<ProgrammeWithPauses>, StoreError> {
    let programmes = sqlx::query(concat!(
        "SELECT ",
        programme_columns!(),
        " FROM programmes WHERE participant_id = $1 ORDER BY start_date, id"
    ))
    .bind(participant_id)
    .fetch_all(&mut *conn)
    .await?;
    let programmes = rows::all(programmes, rows::programme)?;
    let pauses = select_pauses(&mut *conn, participant_id, &programmes).await?;
    Ok(group_pauses(programmes, pauses))
}
