//! Fetches `?url=` over outbound HTTP and reports what came back.

use gust_sdk::{FetchError, Request, Response, fetch};

fn handle(req: Request) -> Response {
    let Some(url) = req.query("url") else {
        return Response::text("missing ?url=\n").with_status(400);
    };
    match fetch("GET", &url, &[]) {
        Ok(fetched) => Response::new(200)
            .with_header("x-upstream-status", fetched.status.to_string())
            .with_body(fetched.body),
        Err(FetchError::Denied) => Response::text("denied\n").with_status(403),
        Err(e) => Response::text(format!("{e}\n")).with_status(502),
    }
}

gust_sdk::export_handler!(handle);
