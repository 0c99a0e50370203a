//! Makes a thumbnail of every image uploaded to a bucket: on each `ObjectCreated` event of
//! `photos`, it writes the image at most 128 px on its longest side to `photos-thumbs`, under
//! the same key and in the same format.
//!
//! Deploy with `--bucket photos:read --bucket photos-thumbs:write` and a trigger
//! `gust trigger add thumbnail --bucket photos --events created`.

use std::io::Cursor;

use gust_sdk::bucket::{Bucket, object_events};
use gust_sdk::{Request, Response};
use image::{ImageFormat, ImageReader};

const LONGEST_SIDE: u32 = 128;
/// Where thumbnails go: `THUMBNAIL_BUCKET`, or the source's name with `-thumbs`.
const SUFFIX: &str = "-thumbs";

fn handle(req: Request) -> Response {
    let events = match object_events(&req.body) {
        Ok(events) => events,
        Err(message) => return Response::text(message).with_status(400),
    };
    let mut made = Vec::new();
    for event in events.iter().filter(|e| e.is_created()) {
        match thumbnail(&event.bucket, &event.key) {
            Ok(size) => made.push(format!("{} {}x{}", event.key, size.0, size.1)),
            // A failure fails the invocation: the event is retried, then dead-lettered.
            Err(message) => {
                eprintln!("{}: {message}", event.key);
                return Response::text(format!("{}: {message}\n", event.key)).with_status(500);
            }
        }
    }
    println!("made {} thumbnail(s): {}", made.len(), made.join(", "));
    Response::text(made.join("\n"))
}

/// Reads the image, scales it down and writes it; returns the thumbnail's size.
fn thumbnail(bucket: &str, key: &str) -> Result<(u32, u32), String> {
    let source = Bucket::open(bucket).map_err(|e| e.to_string())?;
    let target_name = gust_sdk::env("THUMBNAIL_BUCKET").unwrap_or(format!("{bucket}{SUFFIX}"));
    let target = Bucket::open(&target_name).map_err(|e| e.to_string())?;
    let bytes = source.get(key).map_err(|e| format!("reading: {e}"))?;
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| e.to_string())?;
    let format = reader
        .format()
        .filter(|f| matches!(f, ImageFormat::Png | ImageFormat::Jpeg))
        .ok_or("not a PNG or JPEG image")?;
    let image = reader.decode().map_err(|e| format!("decoding: {e}"))?;
    let small = if image.width().max(image.height()) <= LONGEST_SIDE {
        image
    } else {
        image.thumbnail(LONGEST_SIDE, LONGEST_SIDE)
    };
    let mut out = Cursor::new(Vec::new());
    small
        .write_to(&mut out, format)
        .map_err(|e| format!("encoding: {e}"))?;
    target
        .put(key, out.get_ref(), format.to_mime_type())
        .map_err(|e| format!("writing to {target_name}: {e}"))?;
    Ok((small.width(), small.height()))
}

gust_sdk::export_handler!(handle);
