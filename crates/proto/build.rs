//! Compiles the product's protobuf contracts (`<workspace>/proto/kvp/...`) to
//! Rust with protox (a pure-Rust protobuf compiler: no system `protoc`) and
//! tonic-prost-build, and writes the encoded descriptor set for gRPC
//! reflection.

use std::path::{Path, PathBuf};
use std::{env, fs, io};

/// File name of the encoded `FileDescriptorSet` in `OUT_DIR`.
const DESCRIPTOR_FILE: &str = "kvp_descriptor.bin";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR")?);
    let proto_root = manifest_dir.join("../../proto");
    let proto_root = proto_root
        .canonicalize()
        .map_err(|e| format!("proto directory {}: {e}", proto_root.display()))?;

    // Any change below proto/ (a new file included) rebuilds the crate.
    println!("cargo:rerun-if-changed={}", proto_root.display());
    let mut protos = Vec::new();
    collect_protos(&proto_root.join("kvp"), &mut protos)?;
    protos.sort();
    for proto in &protos {
        println!("cargo:rerun-if-changed={}", proto.display());
    }

    // protox::compile includes imports and source info, so the descriptor set
    // is self-contained and reflection clients see the comments.
    let fds = protox::compile(&protos, [&proto_root])?;

    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(
        out_dir.join(DESCRIPTOR_FILE),
        prost::Message::encode_to_vec(&fds),
    )?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(fds)?;
    Ok(())
}

/// Collects every `.proto` file below `dir`, recursively.
fn collect_protos(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect_protos(&path, out)?;
        } else if path.extension().is_some_and(|ext| ext == "proto") {
            out.push(path);
        }
    }
    Ok(())
}
