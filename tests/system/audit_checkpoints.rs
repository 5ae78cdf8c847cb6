//! The audit chain against a checkpoint kept outside the database: whoever
//! owns the tables can switch the append-only triggers off and cut the chain
//! short, or cut it and chain new entries on — the chain then verifies among
//! itself, and only the checkpoint the service logged earlier tells. Run on
//! both backends, through `verify-audit --checkpoint` as an operator runs it.

use kvp_payroll::audit_checkpoint::{Against, Checkpoint};
use kvp_system_tests::{Fixture, TestApp, TestBackend, TestDb, national_id};
use serde_json::json;

const EXE: &str = env!("CARGO_BIN_EXE_kvp-payroll-under-test");

/// A checkpoint key (base64 of 32 bytes; protects nothing).
const CHECKPOINT_KEY: &str = "a3ZwLWF1ZGl0LWNoZWNrcG9pbnQta2V5LTMyLWJ5dGU=";

/// `verify-audit --checkpoint LINE` on `url`: exit code and output.
fn verify_audit(url: &str, checkpoint: &str) -> (Option<i32>, String) {
    let mut command = std::process::Command::new(EXE);
    for (name, _) in std::env::vars() {
        if name.starts_with("KVP_") {
            command.env_remove(name);
        }
    }
    let output = command
        .args([
            "verify-audit",
            "--database-url",
            url,
            "--checkpoint",
            checkpoint,
        ])
        .env("KVP_AUDIT_CHECKPOINT_KEY", CHECKPOINT_KEY)
        .output()
        .unwrap();
    (
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// Runs `sql` as the database's owner would.
async fn as_owner(url: &str, backend: TestBackend, sql: &str) {
    use sqlx::Connection as _;
    match backend {
        TestBackend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }
        TestBackend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

#[tokio::test]
async fn a_truncated_and_a_rewritten_audit_chain_are_found_against_a_checkpoint() {
    let key = base64_key();
    for backend in TestBackend::all() {
        let (db, url) = TestDb::create_on(backend).await;
        let app = TestApp::spawn_configured_on(backend, |config| {
            config.database_url = url.clone();
            config.audit_checkpoint_key = Some(CHECKPOINT_KEY.into());
        })
        .await;
        Fixture::new(&app).await;
        let store = app.payroll.store().clone();
        let checkpoint = Checkpoint::current(store.as_ref(), Some(&key))
            .await
            .unwrap()
            .unwrap();
        assert!(checkpoint.seq >= 3, "{checkpoint}");
        let line = checkpoint.to_string();
        let (code, out) = verify_audit(&url, &line);
        assert_eq!(code, Some(0), "{backend:?}: {out}");
        assert!(out.contains("and it holds the checkpoint"), "{out}");

        // A checkpoint moved to another entry, or signed with another key,
        // is refused as such (exit 2), not taken as the chain's fault.
        let forged = Checkpoint {
            seq: checkpoint.seq - 1,
            ..checkpoint.clone()
        };
        let (code, out) = verify_audit(&url, &forged.to_string());
        assert_eq!(code, Some(2), "{out}");
        assert!(out.contains("MAC does not verify"), "{out}");

        // The owner switches the triggers off and deletes the last entry.
        let (disable, enable) = match backend {
            TestBackend::Sqlite => (
                "DROP TRIGGER audit_entries_no_delete",
                "CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries \
                 BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END",
            ),
            TestBackend::Postgres => (
                "ALTER TABLE audit_entries DISABLE TRIGGER USER",
                "ALTER TABLE audit_entries ENABLE TRIGGER USER",
            ),
        };
        as_owner(&url, backend, disable).await;
        as_owner(
            &url,
            backend,
            &format!(
                "DELETE FROM audit_entries WHERE chain_seq = {}",
                checkpoint.seq
            ),
        )
        .await;
        as_owner(&url, backend, enable).await;
        assert_eq!(
            checkpoint.against(store.as_ref()).await.unwrap(),
            Against::Truncated {
                last: Some(checkpoint.seq - 1)
            }
        );
        let (code, out) = verify_audit(&url, &line);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("audit chain cut short"), "{out}");

        // A new change chains on where the cut left off: the chain verifies
        // among itself, but not against the checkpoint.
        app.post(
            "/v1/participants",
            json!({
                "municipality_id": "0301",
                "national_id": national_id("020292", 234),
                "display_name": "Ola Nordmann",
            }),
            201,
        )
        .await;
        let head = store.audit_chain_hash(None).await.unwrap().unwrap();
        assert_eq!(head.0, checkpoint.seq, "the chain is as long again");
        assert!(store.verify_audit_chain().await.unwrap().is_intact());
        let (code, out) = verify_audit(&url, &line);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains("audit chain rewritten"), "{out}");

        app.stop().await;
        db.drop_database().await;
    }
}

/// The checkpoint key's bytes.
fn base64_key() -> Vec<u8> {
    kvp_payroll::config::Config {
        audit_checkpoint_key: Some(CHECKPOINT_KEY.into()),
        ..kvp_payroll::config::Config::default()
    }
    .audit_checkpoint_secret()
    .unwrap()
    .unwrap()
}
