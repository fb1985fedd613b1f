"""The seed's API function, as its own text describes it: a Python 3.11 Lambda handler behind API
Gateway that takes {"filename", "content_type", "image_base64"}, decodes the image, puts it in S3
(put_object) and its metadata in DynamoDB (put_item). The peer of imgup-lambda-api in bench/
(bench/lambda_seed_peer.py runs both under aws-lambda-rie); not project code.

Settings: SEED_BUCKET, SEED_TABLE (partition key "id"), and the standard AWS variables
(AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_DYNAMODB, AWS_REGION, keys).
"""

import base64
import json
import os
import uuid
from datetime import datetime, timezone

import boto3
from botocore.config import Config

# Clients made at init, as Lambda's own guidance has it (reused by warm invocations).
s3 = boto3.client("s3", config=Config(s3={"addressing_style": "path"}))
table = boto3.resource("dynamodb").Table(os.environ["SEED_TABLE"])
BUCKET = os.environ["SEED_BUCKET"]


def answer(status, document):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(document)}


def handler(event, context):
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        body = base64.b64decode(body)
    try:
        request = json.loads(body)
        image = base64.b64decode(request["image_base64"], validate=True)
        filename = str(request["filename"])
        content_type = str(request["content_type"])
    except (ValueError, KeyError, TypeError) as e:
        return answer(400, {"error": f"bad request: {e}"})
    image_id = str(uuid.uuid4())
    key = f"uploads/{image_id}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=image, ContentType=content_type)
    record = {"id": image_id, "filename": filename, "content_type": content_type,
              "uploaded_at": datetime.now(timezone.utc).isoformat(), "key": key,
              "size_bytes": len(image), "status": "processing"}
    table.put_item(Item=record)
    return answer(201, record)
