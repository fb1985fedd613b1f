"""CloudWatch Embedded Metric Format (EMF) as its specification states it
(docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
the structure as a JSON Schema (checked with jsonschema), then what a schema cannot say: every
metric a directive names is a member of the root holding a number (or an array of at most 100
numbers), every dimension a dimension set names is a member holding a string."""

from __future__ import annotations

import json

import jsonschema

# The units CloudWatch accepts (MetricDefinition.Unit; the PutMetricData API's StandardUnit).
UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes",
    "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count",
    "Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second",
    "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second",
    "Terabits/Second", "Count/Second", "None",
}

# "Unless otherwise noted, objects defined by this specification MUST NOT contain any additional
# members": hence additionalProperties false on the metadata's directives and definitions.
SCHEMA = {
    "type": "object",
    "required": ["_aws"],
    "properties": {
        "_aws": {
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                # Milliseconds since the epoch; a whole number here (the spec: "a number").
                "Timestamp": {"type": "integer", "minimum": 0},
                "LogGroupName": {"type": "string"},
                "CloudWatchMetrics": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["Namespace", "Dimensions", "Metrics"],
                        "properties": {
                            "Namespace": {"type": "string", "minLength": 1, "maxLength": 255},
                            "Dimensions": {
                                "type": "array",
                                "items": {
                                    "type": "array",
                                    "maxItems": 30,
                                    "items": {"type": "string", "minLength": 1, "maxLength": 255},
                                },
                            },
                            "Metrics": {
                                "type": "array",
                                "maxItems": 100,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["Name"],
                                    "properties": {
                                        "Name": {"type": "string", "minLength": 1, "maxLength": 255},
                                        "Unit": {"enum": sorted(UNITS)},
                                        "StorageResolution": {"enum": [1, 60]},
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    },
}


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate(line: str) -> dict:
    """The EMF document of the log line `line`, or AssertionError saying what the spec forbids."""
    document = json.loads(line)
    try:
        jsonschema.validate(document, SCHEMA)
    except jsonschema.ValidationError as e:
        raise AssertionError(f"not EMF: {e.message} at {list(e.absolute_path)}: {line}") from e
    timestamp = document["_aws"]["Timestamp"]
    # Milliseconds, not seconds: after 2020 and before 2100.
    assert 1_577_836_800_000 <= timestamp <= 4_102_444_800_000, f"Timestamp not in ms: {line}"
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for dimension_set in directive["Dimensions"]:
            for name in dimension_set:
                assert isinstance(document.get(name), str), f"dimension {name} not a string: {line}"
                assert 1 <= len(document[name]) <= 1024, f"dimension {name} value length: {line}"
        for metric in directive["Metrics"]:
            value = document.get(metric["Name"])
            ok = is_number(value) or (isinstance(value, list) and 0 < len(value) <= 100 and
                                       all(is_number(v) for v in value))
            assert ok, f"metric {metric['Name']} has no numeric value: {line}"
    return document


def metrics_of(document: dict) -> dict[str, tuple[str, float, list[list[str]]]]:
    """{metric name: (unit, value, dimension sets)} of an EMF document."""
    out = {}
    for directive in document["_aws"]["CloudWatchMetrics"]:
        for metric in directive["Metrics"]:
            out[metric["Name"]] = (metric.get("Unit", "None"), document[metric["Name"]],
                                   directive["Dimensions"])
    return out
