#!/usr/bin/env python3
"""Turns a fresh moto server's auth mode on, with one IAM user whose keys the tests sign with.

Usage: moto_auth_setup.py ENDPOINT    prints "ACCESS_KEY_ID SECRET_ACCESS_KEY"

On a moto that checks nothing yet (started without INITIAL_NO_AUTH_ACTION_COUNT), it creates the
IAM user "imgup-test" with an inline policy allowing DynamoDB (every action, every table: the
tests make a table each) and an access key, then posts 0 to /moto-api/reset-auth: from then on
moto checks every request's SigV4 signature against the keys IAM knows, and the user's policy
(docs/dynamodb.md, "Where moto differs": its auth errors come back as XML).
"""

import json
import sys
import urllib.request

import boto3


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    endpoint = sys.argv[1]
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    iam.create_user(UserName="imgup-test")
    iam.put_user_policy(
        UserName="imgup-test",
        PolicyName="imgup-test-dynamodb",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}],
            }
        ),
    )
    key = iam.create_access_key(UserName="imgup-test")["AccessKey"]
    # text/plain: moto reads the raw body (a form content type would leave it empty).
    request = urllib.request.Request(
        endpoint + "/moto-api/reset-auth",
        data=b"0",
        method="POST",
        headers={"Content-Type": "text/plain"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()
    print(key["AccessKeyId"], key["SecretAccessKey"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
