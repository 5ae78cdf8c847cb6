//! Rebuilds the crate when a migration is added: `sqlx::migrate!` embeds the
//! files at compile time, and a proc macro cannot tell Cargo to watch them.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
