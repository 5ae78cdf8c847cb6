// Closing a month in chunks: the flow of a close session, written once for
// both backends. Included by `postgres/close.rs` and `sqlite/close.rs`, each of
// which brings its transactions (`CloseTransactions`), how a chunk's
// participants are named (`ChunkScope`, `in_chunk!`, `for_each_row`), how its
// timesheets and ledger are read, and how marks are cleared (`clear_marks`).

/// A chunk's participants (the limit taken before the join) with their
/// marks; a missing mark reads as `marked` false.
macro_rules! chunk_participants {
    ($where:literal) => {
        concat!(
            "SELECT p.id, p.municipality_id, p.nin_lookup, p.nin_sealed, p.birth_date, \
                    p.display_name, p.created_at, \
                    m.participant_id IS NOT NULL AS marked, m.recompute_from, m.version \
             FROM (SELECT * FROM participants ",
            $where,
            ") p LEFT JOIN recompute_marks m ON m.participant_id = p.id ORDER BY p.id"
        )
    };
}

/// An open close.
struct OpenClose {
    transactions: CloseTransactions,
    run: OpenRun,
    context: CloseContext,
    /// Participants with lines written so far.
    paid: HashSet<Uuid>,
    /// The sum of the lines written so far.
    total: Decimal,
}

/// See [`crate::PayRunStore::begin_close`].
pub(super) async fn begin(store: &Store, run: &OpenRun) -> Result<BeginClose, StoreError> {
    check_open_run(run)?;
    let mut write = store.begin_write().await?;
    // Closes of one municipality queue here; the next one then finds the
    // run below (on PostgreSQL READ COMMITTED sees every close committed
    // before the lock; on SQLite the write lock is held to the commit).
    lock_closes(&mut write, &run.municipality_id).await?;
    if let Some(existing) = select_run_by_month(&mut write, &run.municipality_id, run.month).await?
    {
        write.rollback().await?;
        return Ok(BeginClose::Closed(existing));
    }
    let mut transactions = CloseTransactions::open(store, write).await?;
    let context = read_context(transactions.reader(), &run.municipality_id).await?;
    sqlx::query(concat!(
        "INSERT INTO pay_runs (",
        pay_run_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, 0, $6, 0)"
    ))
    .bind(run.id)
    .bind(&run.municipality_id)
    .bind(run.month)
    .bind(RunState::Closed.as_str())
    .bind(instant(run.closed_at)?)
    .bind(decimal(Decimal::ZERO))
    .execute(transactions.writer())
    .await
    .map_err(|e| {
        on_violation(e, |violation| match violation {
            Violation::Unique(constraint::PAY_RUNS_PKEY) => {
                Some(StoreError::conflict("the pay run id is taken"))
            }
            _ => None,
        })
    })?;
    Ok(BeginClose::Open(Box::new(OpenClose {
        transactions,
        run: run.clone(),
        context,
        paid: HashSet::new(),
        total: Decimal::ZERO,
    })))
}

async fn read_context(conn: &mut Conn, municipality_id: &str) -> Result<CloseContext, StoreError> {
    let municipality = sqlx::query(
        "SELECT id, name, policy_overrides, pay_codes, handoff, version FROM municipalities WHERE id = $1",
    )
    .bind(municipality_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StoreError::not_found("municipality", municipality_id))?;
    let runs = sqlx::query(concat!(
        "SELECT ",
        pay_run_columns!(),
        " FROM pay_runs WHERE municipality_id = $1 ORDER BY month"
    ))
    .bind(municipality_id)
    .fetch_all(&mut *conn)
    .await?;
    let basis: Option<Option<String>> = sqlx::query_scalar(
        "SELECT basis FROM pay_runs WHERE municipality_id = $1 ORDER BY month DESC LIMIT 1",
    )
    .bind(municipality_id)
    .fetch_optional(&mut *conn)
    .await?;
    let registered_g = sqlx::query(
        "SELECT effective_date, value, reference, registered_at FROM registered_g \
         ORDER BY effective_date",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(CloseContext {
        municipality: rows::municipality(&municipality)?,
        runs: rows::all(runs, rows::pay_run)?,
        registered_g: rows::all(registered_g, rows::registered_g)?,
        basis: basis.flatten(),
    })
}

#[async_trait]
impl CloseSession for OpenClose {
    fn context(&self) -> &CloseContext {
        &self.context
    }

    async fn participants(
        &mut self,
        after: Option<Uuid>,
        limit: u32,
        floor: Option<Date>,
    ) -> Result<Vec<CloseParticipant>, StoreError> {
        let municipality = self.run.municipality_id.as_str();
        let conn = self.transactions.reader();
        let found = match after {
            None => {
                sqlx::query(chunk_participants!(
                    "WHERE municipality_id = $1 ORDER BY id LIMIT $2"
                ))
                .bind(municipality)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?
            }
            Some(after) => {
                sqlx::query(chunk_participants!(
                    "WHERE municipality_id = $1 AND id > $2 ORDER BY id LIMIT $3"
                ))
                .bind(municipality)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(&mut *conn)
                .await?
            }
        };
        let mut members = Vec::with_capacity(found.len());
        for row in &found {
            members.push((rows::participant(row)?, mark(row)?));
        }
        let mut chunk = ChunkBuilder::new(members);
        read_chunk_facts(conn, &mut chunk, municipality, floor).await?;
        Ok(chunk.finish())
    }

    async fn write_lines(&mut self, lines: &[PayLine]) -> Result<(), StoreError> {
        check_close_lines(&self.run, lines, &mut self.paid, &mut self.total)?;
        insert_pay_lines(self.transactions.writer(), lines).await
    }

    async fn finish(self: Box<Self>, finish: FinishClose) -> Result<PayRun, StoreError> {
        check_finish(&self.run, &finish, &self.paid, self.total)?;
        let OpenClose {
            transactions, run, ..
        } = *self;
        let held_count = i32::try_from(finish.held.len())
            .map_err(|_| StoreError::invalid_input("too many participants held"))?;
        let mut write = transactions.into_write().await?;
        sqlx::query(
            "UPDATE pay_runs SET participant_count = $1, total = $2, basis = $3, held_count = $4 \
             WHERE id = $5",
        )
        .bind(finish.participant_count)
        .bind(decimal(finish.total))
        .bind(&finish.basis)
        .bind(held_count)
        .bind(run.id)
        .execute(&mut *write)
        .await?;
        insert_holds(&mut write, &finish.held).await?;
        let foreign: Option<Uuid> = sqlx::query_scalar(
            "SELECT l.participant_id FROM pay_lines l JOIN participants p ON p.id = l.participant_id \
             WHERE l.run_id = $1 AND p.municipality_id <> $2 \
             UNION ALL \
             SELECT h.participant_id FROM held_participants h \
             JOIN participants p ON p.id = h.participant_id \
             WHERE h.run_id = $1 AND p.municipality_id <> $2 LIMIT 1",
        )
        .bind(run.id)
        .bind(&run.municipality_id)
        .fetch_optional(&mut *write)
        .await?;
        if foreign.is_some() {
            return Err(StoreError::invalid_input(
                "a pay line or hold names a participant of another municipality",
            ));
        }
        clear_marks(&mut write, &finish.recomputed).await?;
        keep_marks(&mut write, &finish.held).await?;
        insert_events(&mut write, &finish.events).await?;
        insert_audit(&mut write, &finish.audit).await?;
        write.commit().await?;
        Ok(PayRun {
            id: run.id,
            municipality_id: run.municipality_id,
            month: run.month,
            state: RunState::Closed,
            closed_at: run.closed_at,
            participant_count: finish.participant_count,
            held_count,
            total: finish.total,
        })
    }
}

/// Records a close's holds with its run. A participant who is not there is
/// [`StoreError::NotFound`] (the foreign key); holds are few, one statement each.
async fn insert_holds(conn: &mut Conn, holds: &[Hold]) -> Result<(), StoreError> {
    for hold in holds {
        let h = &hold.held;
        sqlx::query(concat!(
            "INSERT INTO held_participants (",
            held_participant_columns!(),
            ") VALUES ($1, $2, $3, $4)"
        ))
        .bind(h.run_id)
        .bind(h.participant_id)
        .bind(h.month)
        .bind(&h.reason)
        .execute(&mut *conn)
        .await
        .map_err(|e| on_violation(e, participant_missing(h.participant_id)))?;
    }
    Ok(())
}

/// Moves each held participant's mark back to the first month the close
/// considered for them, if it stands later or is clear (never forward), and
/// bumps its version: the next close recomputes every month this one left
/// unpaid, whatever the floor then. A missing mark already means every month.
/// Dates compare as dates on PostgreSQL and as `YYYY-MM-DD` text on SQLite.
async fn keep_marks(conn: &mut Conn, holds: &[Hold]) -> Result<(), StoreError> {
    for hold in holds {
        sqlx::query(
            "UPDATE recompute_marks \
             SET recompute_from = CASE WHEN recompute_from IS NULL OR recompute_from > $2 \
                                       THEN $2 ELSE recompute_from END, \
                 version = version + 1 \
             WHERE participant_id = $1",
        )
        .bind(hold.held.participant_id)
        .bind(hold.recompute_from)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Reads the facts, and the ledger from each participant's first month to
/// recompute on, of a chunk's participants into `chunk`: one query per table
/// over the chunk's participants (`in_chunk!`, `ChunkScope`), each row handed
/// over as it arrives.
async fn read_chunk_facts(
    conn: &mut Conn,
    chunk: &mut ChunkBuilder,
    municipality: &str,
    floor: Option<Date>,
) -> Result<(), StoreError> {
    let Some(scope) = ChunkScope::of(chunk, municipality) else {
        return Ok(());
    };
    let scope = &scope;
    for_each_row(
        conn,
        concat!(
            "SELECT id, participant_id, birth_date, reference FROM children WHERE ",
            in_chunk!("participant_id"),
            " ORDER BY participant_id, birth_date, id"
        ),
        scope,
        |row| {
            chunk.child(rows::child(row)?)?;
            Ok(())
        },
    )
    .await?;
    for_each_row(
        conn,
        concat!(
            "SELECT id, participant_id, from_date, to_date FROM sole_carer_periods WHERE ",
            in_chunk!("participant_id"),
            " ORDER BY participant_id, from_date, id"
        ),
        scope,
        |row| {
            chunk.sole_carer_period(rows::sole_carer_period(row)?)?;
            Ok(())
        },
    )
    .await?;
    for_each_row(
        conn,
        concat!(
            "SELECT id, participant_id, month, kind, amount FROM benefit_offsets WHERE ",
            in_chunk!("participant_id"),
            " ORDER BY participant_id, month, kind, id"
        ),
        scope,
        |row| {
            chunk.offset(rows::benefit_offset(row)?)?;
            Ok(())
        },
    )
    .await?;
    for_each_row(
        conn,
        concat!(
            "SELECT ",
            programme_columns!(),
            " FROM programmes WHERE ",
            in_chunk!("participant_id"),
            " ORDER BY participant_id, start_date, id"
        ),
        scope,
        |row| {
            chunk.programme(rows::programme(row)?)?;
            Ok(())
        },
    )
    .await?;
    for_each_row(
        conn,
        concat!(
            "SELECT g.participant_id AS owner, p.id, p.programme_id, p.from_date, p.to_date, \
                    p.kind, p.reference \
             FROM programme_pauses p JOIN programmes g ON g.id = p.programme_id WHERE ",
            in_chunk!("g.participant_id"),
            " ORDER BY g.participant_id, p.from_date, p.id"
        ),
        scope,
        |row| {
            chunk.pause(row.try_get("owner")?, rows::pause(row)?)?;
            Ok(())
        },
    )
    .await?;
    read_chunk_timesheets(conn, chunk, scope).await?;
    for_each_row(
        conn,
        concat!(
            "SELECT ",
            decision_columns!(),
            " FROM sanction_decisions WHERE ",
            in_chunk!("participant_id"),
            " ORDER BY participant_id, date, entry_kind"
        ),
        scope,
        |row| {
            chunk.decision(rows::sanction_decision(row)?)?;
            Ok(())
        },
    )
    .await?;
    read_chunk_ledger(conn, chunk, scope, floor).await
}

/// A participant's mark from the chunk query; a missing mark recomputes everything.
fn mark(row: &DbRow) -> Result<RecomputeMark, StoreError> {
    let marked: bool = row.try_get("marked")?;
    if !marked {
        return Ok(RecomputeMark {
            from: Some(RECOMPUTE_EVERYTHING),
            version: 0,
        });
    }
    Ok(RecomputeMark {
        from: row.try_get("recompute_from")?,
        version: row.try_get("version")?,
    })
}
