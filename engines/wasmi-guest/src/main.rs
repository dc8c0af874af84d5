//! The wasmi guest: wasmi serving lockstep's line protocol on standard input and output. Built for
//! `wasm32-wasip1` by `cargo xtask guest`, it is the runtime the nested tiers (`wasmi-on-*`) run on a
//! host tier; built natively, it is the same server as `cargo xtask example-engine`.

use protocol_server::{Server, as_given};

fn main() -> std::io::Result<()> {
    let wasmi = oracles::wasmi::Wasmi::new();
    let mut server = Server::new("wasmi guest".to_string(), &wasmi);
    server.serve(
        std::io::stdin().lock(),
        &mut std::io::stdout().lock(),
        &mut as_given,
    )
}
