"""Thumbnails of uploaded images, in the shape of a Lambda handler for S3 events.

Each ObjectCreated record names a bucket and a key: the image is read, shrunk to at most
128 px on its longest side and written to the bucket of the same name with "-thumbs", under
the same key. boto3 finds the endpoint and the key in the AWS_* variables Gust sets for a
function deployed with --bucket.
"""

import io
from urllib.parse import unquote_plus

import boto3
from PIL import Image

LONGEST_SIDE = 128
s3 = boto3.client("s3")


def shrink(data):
    """The image in `data`, scaled down, encoded as it came, and its content type."""
    with Image.open(io.BytesIO(data)) as image:
        kind = image.format
        image.thumbnail((LONGEST_SIDE, LONGEST_SIDE))
        out = io.BytesIO()
        image.save(out, format=kind)
        return out.getvalue(), Image.MIME[kind], image.size


def lambda_handler(event, context):
    made = []
    for record in event["Records"]:
        if not record["eventName"].startswith("ObjectCreated:"):
            continue
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        thumbnail, content_type, size = shrink(original)
        s3.put_object(
            Bucket=bucket + "-thumbs", Key=key, Body=thumbnail, ContentType=content_type
        )
        made.append({"key": key, "width": size[0], "height": size[1]})
    return {"thumbnails": made}
