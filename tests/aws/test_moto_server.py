"""scripts/moto_server.py's item-level transactions: a cancelled TransactWriteItems leaves every
item it named as it was, and a committed one writes them all, as on DynamoDB — now that moto's
whole-table backup is replaced by a backup of the named items (scripts/moto_server.py,
item_level_transactions). Runs on the plain moto of scripts/with-aws-peers.sh."""

from __future__ import annotations

import os
import secrets

import pytest

import peers


@pytest.fixture(scope="module")
def dynamodb():
    import boto3

    endpoint = os.environ.get("IMGUP_TEST_DYNAMODB_ENDPOINT", "")
    if not endpoint:
        peers.missing("no DynamoDB peer (IMGUP_TEST_DYNAMODB_ENDPOINT)")
    return boto3.client(
        "dynamodb", endpoint_url=endpoint, region_name=peers.REGION,
        aws_access_key_id=os.environ.get("IMGUP_TEST_AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("IMGUP_TEST_AWS_SECRET_ACCESS_KEY", "test"))


@pytest.fixture(params=["hash", "hash+range"])
def table(dynamodb, request):
    name = "moto-tx-" + secrets.token_hex(4)
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if request.param == "hash+range":
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "S"})
    dynamodb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=attrs,
                          BillingMode="PAY_PER_REQUEST")
    yield name, request.param == "hash+range"
    dynamodb.delete_table(TableName=name)


def key(pk: str, ranged: bool) -> dict:
    k = {"pk": {"S": pk}}
    if ranged:
        k["sk"] = {"S": "r"}
    return k


def items(dynamodb, name: str) -> dict[str, dict]:
    return {i["pk"]["S"]: i for i in dynamodb.scan(TableName=name, ConsistentRead=True)["Items"]}


def test_a_cancelled_transaction_leaves_every_named_item_as_it_was(dynamodb, table):
    name, ranged = table
    for pk in ("kept", "deleted"):
        dynamodb.put_item(TableName=name, Item={**key(pk, ranged), "n": {"N": "1"}})
    before = items(dynamodb, name)
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException) as caught:
        dynamodb.transact_write_items(TransactItems=[
            {"Update": {"TableName": name, "Key": key("kept", ranged), "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Delete": {"TableName": name, "Key": key("deleted", ranged)}},
            {"Put": {"TableName": name, "Item": {**key("new", ranged), "n": {"N": "3"}}}},
            {"ConditionCheck": {"TableName": name, "Key": key("missing", ranged),
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    reasons = [r["Code"] for r in caught.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert items(dynamodb, name) == before


def test_a_committed_transaction_writes_every_item(dynamodb, table):
    name, ranged = table
    dynamodb.put_item(TableName=name, Item={**key("kept", ranged), "n": {"N": "1"}})
    dynamodb.put_item(TableName=name, Item={**key("deleted", ranged), "n": {"N": "1"}})
    dynamodb.transact_write_items(TransactItems=[
        {"Update": {"TableName": name, "Key": key("kept", ranged), "UpdateExpression": "SET n = :two",
                    "ExpressionAttributeValues": {":two": {"N": "2"}}}},
        {"Delete": {"TableName": name, "Key": key("deleted", ranged)}},
        {"Put": {"TableName": name, "Item": {**key("new", ranged), "n": {"N": "3"}},
                 "ConditionExpression": "attribute_not_exists(pk)"}},
    ])
    after = items(dynamodb, name)
    assert sorted(after) == ["kept", "new"]
    assert after["kept"]["n"] == {"N": "2"} and after["new"]["n"] == {"N": "3"}


def test_a_transaction_naming_one_item_twice_is_refused_and_changes_nothing(dynamodb, table):
    name, ranged = table
    dynamodb.put_item(TableName=name, Item={**key("kept", ranged), "n": {"N": "1"}})
    before = items(dynamodb, name)
    with pytest.raises(dynamodb.exceptions.ClientError):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": name, "Item": {**key("new", ranged), "n": {"N": "3"}}}},
            {"Update": {"TableName": name, "Key": key("kept", ranged), "UpdateExpression": "SET n = :two",
                        "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            {"Delete": {"TableName": name, "Key": key("kept", ranged)}},
        ])
    assert items(dynamodb, name) == before
