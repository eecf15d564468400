//! lqosd's side of the bus: answers pings and status, applies submitted plans one at a time on
//! a blocking thread (an apply runs tc and map syscalls for up to seconds).

use crate::shaper::{Outcome, Shaper};
use lqos_bus::{Handler, Request, Response};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub struct BusHandler {
    shaper: Arc<Mutex<Shaper>>,
    started: Instant,
}

impl BusHandler {
    pub fn new(shaper: Shaper) -> Self {
        Self { shaper: Arc::new(Mutex::new(shaper)), started: Instant::now() }
    }
}

impl Handler for BusHandler {
    async fn handle(&self, request: Request) -> Response {
        let shaper = self.shaper.clone();
        let uptime = self.started.elapsed().as_secs();
        let answer = tokio::task::spawn_blocking(move || {
            // A panic in an earlier apply poisoned the lock; the shaper's state is still the
            // last consistent one (applies restore it before returning), so go on.
            let mut shaper = shaper.lock().unwrap_or_else(|p| p.into_inner());
            match request {
                Request::Ping => Response::Pong { version: env!("CARGO_PKG_VERSION").to_owned() },
                Request::Status => Response::Status(shaper.status(uptime)),
                Request::SubmitPlan { generation, plan } => match shaper.submit(generation, plan) {
                    Outcome::Applied(summary) => Response::Applied { generation, summary },
                    Outcome::Unchanged(generation) => Response::Unchanged { generation },
                    Outcome::Rejected(reasons) => Response::Rejected { reasons },
                },
            }
        })
        .await;
        answer.unwrap_or_else(|e| Response::Error { message: format!("lqosd failed while handling the request: {e}") })
    }
}
