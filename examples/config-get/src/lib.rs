//! Answers the value of `?key=NAME` as wasi:config/store gives it (Gust answers a function's
//! variables there: its `--env`, its secrets and what Gust provides), or 404 when there is none.

wit_bindgen::generate!({ world: "reads-config", path: "wit" });

use gust_sdk::{Request, Response};
use wasi::config::store;

fn handle(req: Request) -> Response {
    let Some(key) = req.query("key") else {
        return Response::text("say which: ?key=NAME\n").with_status(400);
    };
    match store::get(&key) {
        Ok(Some(value)) => Response::text(value),
        Ok(None) => Response::text(format!("no `{key}`\n")).with_status(404),
        Err(e) => Response::text(format!("{e:?}\n")).with_status(500),
    }
}

gust_sdk::export_handler!(handle);
