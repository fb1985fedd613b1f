"""infra/template.yaml read as CloudFormation reads it: the YAML with its short intrinsic tags
(!Ref, !Sub, !GetAtt, ...) and the few intrinsic functions the template's environments and
policies use, resolved for one stack (its id, region, account) and one table name.

Only what the template uses is resolved; anything else raises, so that a new intrinsic in a
policy cannot slip through the IAM test unresolved."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

_TAGS = ["Ref", "Sub", "GetAtt", "Join", "Select", "Split", "If", "Not", "Equals", "And", "Or",
         "FindInMap", "Base64", "ImportValue", "GetAZs", "Condition"]


class _CfnLoader(yaml.SafeLoader):
    pass


def _constructor(tag: str):
    key = "Ref" if tag == "Ref" else ("Condition" if tag == "Condition" else f"Fn::{tag}")

    def construct(loader: yaml.Loader, node: yaml.Node) -> dict:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if tag == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {key: value}

    return construct


for _tag in _TAGS:
    _CfnLoader.add_constructor(f"!{_tag}", _constructor(_tag))


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_CfnLoader)


@dataclass
class Stack:
    """What CloudFormation would know of one deployment of the template."""
    stack_uuid: str
    table: str
    region: str = "us-east-1"
    account: str = "123456789012"  # moto's default account
    stack_name: str = "imgup-iam-test"

    @property
    def stack_id(self) -> str:
        return (f"arn:aws:cloudformation:{self.region}:{self.account}:stack/"
                f"{self.stack_name}/{self.stack_uuid}")

    @property
    def table_arn(self) -> str:
        return f"arn:aws:dynamodb:{self.region}:{self.account}:table/{self.table}"

    def ref(self, name: str) -> str:
        refs = {"AWS::StackId": self.stack_id, "AWS::StackName": self.stack_name,
                "AWS::Region": self.region, "AWS::AccountId": self.account,
                "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
                "ImagesTable": self.table}
        if name not in refs:
            raise KeyError(f"the test does not resolve Ref {name}")
        return refs[name]

    def get_att(self, resource: str, attribute: str) -> str:
        if (resource, attribute) == ("ImagesTable", "Arn"):
            return self.table_arn
        raise KeyError(f"the test does not resolve GetAtt {resource}.{attribute}")

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                return self.get_att(*value)
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::Join":
                separator, items = value
                return separator.join(self.resolve(items))
            if key == "Fn::Split":
                separator, text = value
                return self.resolve(text).split(separator)
            if key == "Fn::Select":
                index, items = value
                return self.resolve(items)[int(index)]
            if key.startswith("Fn::"):
                raise KeyError(f"the test does not resolve {key}")
        return {key: self.resolve(value) for key, value in node.items()}

    def _sub(self, value: Any) -> str:
        if isinstance(value, list):
            text, variables = value
            variables = {name: self.resolve(v) for name, v in variables.items()}
        else:
            text, variables = value, {}

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name in variables:
                return variables[name]
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def function(template: dict, name: str) -> dict:
    return template["Resources"][name]["Properties"]


def policy_statements(template: dict, name: str, stack: Stack) -> list[dict]:
    """The statements of the function's Policies, resolved. Each policy must be an inline
    document (a managed policy or a SAM policy template would escape the test)."""
    statements = []
    for policy in function(template, name).get("Policies", []):
        assert isinstance(policy, dict) and set(policy) <= {"Statement", "Version"}, (
            f"{name}: every policy must be an inline statement list, not {policy!r}")
        statements.extend(stack.resolve(policy["Statement"]))
    return statements


def environment(template: dict, name: str, stack: Stack) -> dict[str, str]:
    variables = function(template, name).get("Environment", {}).get("Variables", {})
    return {key: str(value) for key, value in stack.resolve(variables).items()}
