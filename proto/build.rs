//! Generates the `eraftpb` types from `eraftpb.proto` with the pure-Rust
//! protobuf parser, so no `protoc` binary is needed on any machine.

use protobuf_codegen::{Codegen, Customize};

fn main() {
    println!("cargo:rerun-if-changed=eraftpb.proto");
    println!("cargo:rerun-if-changed=build.rs");
    Codegen::new()
        .pure()
        .include(".")
        .input("eraftpb.proto")
        .customize(
            Customize::default()
                .tokio_bytes(true)
                .generate_accessors(true)
                .gen_mod_rs(true),
        )
        .cargo_out_dir("protos")
        .run_from_script();
}
