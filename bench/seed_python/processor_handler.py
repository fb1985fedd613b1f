"""The seed's processor function: an S3 ObjectCreated event → the original from S3, 1024 and
256 px WebP thumbnails with Pillow, both put in S3, the record completed in DynamoDB
(update_item). The peer of imgup-lambda-processor in bench/ (bench/lambda_seed_peer.py); not
project code.

Settings: as api_handler.py.
"""

import io
import os
import urllib.parse

import boto3
from botocore.config import Config
from PIL import Image, ImageOps

s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
table = boto3.resource("dynamodb").Table(os.environ["SEED_TABLE"])
SIZES = {"medium": 1024, "thumb": 256}


def handler(event, context):
    done = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        image_id = key.rsplit("/", 1)[-1]
        original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        variants = {}
        for name, size in SIZES.items():
            with Image.open(io.BytesIO(original)) as image:
                image.thumbnail((size, size))  # lets the JPEG decoder scale down (draft)
                image = ImageOps.exif_transpose(image)
                out = io.BytesIO()
                image.save(out, "WEBP", quality=80)
            variant_key = f"variants/{image_id}/{name}.webp"
            s3.put_object(Bucket=bucket, Key=variant_key, Body=out.getvalue(),
                          ContentType="image/webp")
            variants[name] = {"width": image.width, "height": image.height,
                              "size_bytes": out.tell(), "key": variant_key}
        table.update_item(Key={"id": image_id},
                          UpdateExpression="SET #s = :ready, variants = :v",
                          ExpressionAttributeNames={"#s": "status"},
                          ExpressionAttributeValues={":ready": "ready", ":v": variants})
        done.append({"key": key, "status": "ready"})
    return {"records": done}
