//! Counts: each request adds `?by=N` (1 unless told) to the key `?key=NAME` ("hits" unless
//! told) of the store `counters` and answers the sum. Deploy with `--kv counters`.

use gust_sdk::kv::{KvError, Store};
use gust_sdk::{Request, Response};

fn handle(req: Request) -> Response {
    let key = req.query("key").unwrap_or_else(|| "hits".into());
    let Ok(by) = req.query("by").unwrap_or_else(|| "1".into()).parse::<i64>() else {
        return Response::text("?by= takes an integer\n").with_status(400);
    };
    match Store::open("counters").and_then(|store| store.increment(&key, by)) {
        Ok(sum) => Response::text(format!("{sum}\n")),
        Err(KvError::AccessDenied) => {
            Response::text("deploy with --kv counters\n").with_status(403)
        }
        Err(e) => Response::text(format!("{e}\n")).with_status(500),
    }
}

gust_sdk::export_handler!(handle);
