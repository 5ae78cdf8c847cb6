//! PostgreSQL with a migration role: the owner applies the migrations
//! (`KVP_MIGRATION_DATABASE_URL`), the service serves as a role that owns
//! no table — everything it does works, readiness included, and it cannot
//! alter a table, switch the audit log's triggers off, or delete or
//! truncate the audit log.

use kvp_proto::kvp::payroll::v1::DayKind;
use kvp_system_tests::{Fixture, TestApp, TestBackend, TestDb, postgres_url};
use sqlx::Connection as _;

#[tokio::test]
async fn the_service_serves_as_a_role_that_cannot_change_the_schema_or_its_audit_log() {
    if TestBackend::configured() != TestBackend::Postgres {
        eprintln!("KVP_TEST_DATABASE_URL is not set: the PostgreSQL-only test is not run");
        return;
    }
    let (db, owner_url) = TestDb::create_on(TestBackend::Postgres).await;
    let role = format!("kvp_service_{}", uuid::Uuid::new_v4().simple());
    // Roles belong to the server: made and dropped through its admin database.
    let mut admin = sqlx::PgConnection::connect(&postgres_url().unwrap())
        .await
        .unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE ROLE {role} LOGIN")))
        .execute(&mut admin)
        .await
        .unwrap();
    let (scheme, rest) = owner_url.split_once("://").unwrap();
    let (_, host) = rest.split_once('@').unwrap();
    let service_url = format!("{scheme}://{role}@{host}");

    let mut app = TestApp::spawn_configured_on(TestBackend::Postgres, |config| {
        config.database_url = service_url.clone();
        config.migration_database_url = Some(owner_url.clone());
    })
    .await;
    let (status, ready) = app.call(reqwest::Method::GET, "/readyz", None).await;
    assert_eq!(status, 200, "{ready}");
    let fixture = Fixture::new(&app).await;
    let body = fixture.body(
        "2025-10-01",
        "2025-10-31",
        &[("2025-10-14", DayKind::Unexcused, "3")],
    );
    app.grpc
        .submit_timesheet(fixture.signed(&body))
        .await
        .unwrap();
    assert!(
        app.payroll
            .store()
            .verify_audit_chain()
            .await
            .unwrap()
            .is_intact()
    );
    app.stop().await;

    let mut service = sqlx::PgConnection::connect(&service_url).await.unwrap();
    for statement in [
        "ALTER TABLE audit_entries DISABLE TRIGGER USER",
        "ALTER TABLE participants ADD COLUMN note TEXT",
        "DELETE FROM audit_entries",
        "TRUNCATE audit_entries",
        "UPDATE audit_entries SET actor = 'someone else'",
        "DROP TABLE participants",
        "DELETE FROM _sqlx_migrations",
    ] {
        let refused = sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&mut service)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("must be owner") || refused.contains("permission denied"),
            "{statement}: {refused}"
        );
    }
    service.close().await.unwrap();
    db.drop_database().await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE {role}")))
        .execute(&mut admin)
        .await
        .unwrap();
    admin.close().await.unwrap();
}
