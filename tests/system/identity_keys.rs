//! The identity key a database is sealed with: the service refuses to start
//! with another, `reseal-identities` (the binary, as an operator runs it)
//! moves every number to a new key in one step, and afterwards the new key is
//! the only one that starts, finds a person again and opens the numbers.

use kvp_payroll::config::Config;
use kvp_payroll::identity::{IdentityVault, NationalId};
use kvp_system_tests::{Fixture, TEST_IDENTITY_KEY, TestApp, TestDb, national_id};
use serde_json::json;

const EXE: &str = env!("CARGO_BIN_EXE_kvp-payroll-under-test");

/// Another key than the test kit's (base64 of 32 bytes; protects nothing).
const NEW_KEY: &str = "bmV3LWlkZW50aXR5LWtleS1mb3ItdGhlLXJlc2VhbC0=";

fn vault(key: &str) -> IdentityVault {
    let config = Config {
        identity_key: Some(key.into()),
        ..Config::default()
    };
    IdentityVault::new(&config.identity_secret().unwrap())
}

/// Whether the service builds on `url` with `key` (the error if not).
async fn starts_with(url: &str, key: &str) -> Result<(), String> {
    let config = Config {
        grpc_addr: "127.0.0.1:0".parse().unwrap(),
        http_addr: "127.0.0.1:0".parse().unwrap(),
        database_url: url.to_owned(),
        identity_key: Some(key.to_owned()),
        dev: true,
        ..Config::default()
    };
    kvp_payroll::app::Application::build(&config)
        .await
        .map(drop)
        .map_err(|e| format!("{e:#}"))
}

#[tokio::test]
async fn another_identity_key_is_refused_until_the_numbers_are_resealed_under_it() {
    let (db, url) = TestDb::create().await;
    let old = vault(TEST_IDENTITY_KEY);
    let new = vault(NEW_KEY);

    let app = TestApp::spawn_configured(|config| config.database_url = url.clone()).await;
    let fixture = Fixture::new(&app).await;
    app.stop().await;

    let refused = starts_with(&url, NEW_KEY).await.unwrap_err();
    assert!(
        refused.contains(&format!("sealed with identity key {}", old.key_id()))
            && refused.contains("reseal-identities"),
        "{refused}"
    );

    let mut command = std::process::Command::new(EXE);
    for (name, _) in std::env::vars() {
        if name.starts_with("KVP_") {
            command.env_remove(name);
        }
    }
    let output = command
        .args(["reseal-identities", "--database-url", &url])
        .env("KVP_IDENTITY_KEY", TEST_IDENTITY_KEY)
        .env("KVP_NEW_IDENTITY_KEY", NEW_KEY)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout} {output:?}");
    assert!(
        stdout.contains(&format!(
            "re-sealed 1 identity numbers under identity key {}",
            new.key_id()
        )),
        "{stdout}"
    );

    // The old key is refused now; the numbers open with the new one only.
    let refused = starts_with(&url, TEST_IDENTITY_KEY).await.unwrap_err();
    assert!(refused.contains(&new.key_id()), "{refused}");
    let store = kvp_store::connect(&url).await.unwrap();
    assert_eq!(store.identity_key_id().await.unwrap(), Some(new.key_id()));
    let sealed = store.sealed_identities().await.unwrap();
    assert_eq!(sealed.len(), 1);
    let participant = fixture.participant_id.parse().unwrap();
    assert_eq!(sealed[0].participant_id, participant);
    let number = NationalId::parse(&national_id("150190", 123)).unwrap();
    assert_eq!(new.open(&sealed[0].nin_sealed, participant), Some(number));
    assert_eq!(old.open(&sealed[0].nin_sealed, participant), None);
    store.close().await;

    // Under the new key the person is found again: registering the same
    // number in the same municipality is a duplicate.
    let app = TestApp::spawn_configured(|config| {
        config.database_url = url.clone();
        config.identity_key = Some(NEW_KEY.into());
    })
    .await;
    let again = app
        .post(
            "/v1/participants",
            json!({
                "municipality_id": "0301",
                "national_id": national_id("150190", 123),
                "display_name": "Kari Nordmann",
            }),
            409,
        )
        .await;
    assert!(
        again["detail"]
            .as_str()
            .unwrap()
            .contains("already registered"),
        "{again}"
    );
    app.stop().await;
    db.drop_database().await;
}
