//! Serves one CRM's test API (lqos-integrations' testkit) until killed, for the browser tests
//! and for trying an integration by hand: `crm-test-api uisp 127.0.0.1:0` prints its URL.

use lqos_integrations::testkit::{self, uisp_data};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "uisp".into());
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = std::net::TcpListener::bind(&addr)?;
    let server = match which.as_str() {
        "uisp" => testkit::serve_std(listener, uisp_data::auth, uisp_data::routes(), None),
        other => return Err(format!("no test API for {other:?} here (uisp)").into()),
    };
    println!("{}", server.url);
    use std::io::Write;
    std::io::stdout().flush()?;
    loop {
        std::thread::park();
    }
}
