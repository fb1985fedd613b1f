"""Differential test of imgup's SigV4 signer against botocore's (an independent signer, PyPI).

A few thousand random requests from a fixed seed (odd paths with '//', '.', '..', spaces, UTF-8
and reserved characters; repeated and empty query names and values; header values with inner
and outer whitespace and continuation lines; S3 and other services; header and presigned forms;
signed and unsigned payloads; with and without a session token) are signed by both, with the
same fixed time, and every output must be identical: canonical request, string to sign,
signature, the Authorization and X-Amz-* headers, and the presigned URL's query.

Where botocore and AWS's signing suite (../shared/corpora/sigv4, the AWS Common Runtime's tests,
which tests/unit/aws/sigv4_suite_test.cpp reproduces byte for byte) disagree, imgup follows the
suite. The main generator stays off those inputs, and each difference has its own test below
that shows it with both signers, so that a change on either side is noticed:

1. Header whitespace. botocore trims and collapses with Python's str.split(), which also takes
   U+001C..U+001F, U+0085, U+00A0 and the Unicode spaces for whitespace; the suite's signer
   (aws_isspace) and the AWS SDK for Java take only ASCII space, tab, CR, LF, VT and FF. imgup
   keeps every other byte as it is.
2. A presigned request with the body botocore's own form serialiser sets,
   `Content-Type: application/x-www-form-urlencoded; charset=utf-8`: botocore drops the header
   before presigning; the suite signs it (post-x-www-form-urlencoded-parameters, query form).
3. A presigned request with a body: botocore's SigV4QueryAuth moves the body (a form or a JSON
   object) into the query string and signs an empty payload; the suite keeps the body and signs
   its hash (post-x-www-form-urlencoded, query form).
4. The presigned URL's parameter order (not signed, so either is valid): botocore puts
   X-Amz-Expires before X-Amz-SignedHeaders, the suite after; imgup renders the suite's order,
   so URLs are compared as their lists of encoded parameters, order aside.
5. Headers that are never signed: imgup skips the union of botocore's list (hop-by-hop and
   tracing headers, User-Agent, Expect) and the suite signer's (which adds the WebSocket
   handshake headers); botocore signs Sec-WebSocket-*. Not a question of correctness (the
   server checks whatever SignedHeaders lists) but of what a proxy may change.

Inputs neither side defines the same way are left out rather than papered over: a Date header
(botocore rewrites it; imgup signs it as it is, as in the S3 documentation's PutObject example in
sigv4_test.cpp), an X-Amz-* header the signer owns (imgup refuses it), a path that is not a wire
path.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import random
import subprocess
import urllib.parse
from unittest import mock

import pytest
from botocore import auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.config import Config
from botocore.credentials import Credentials

SEED = 20261202
CASES = 3000
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
AUTH_PARAMS = {
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
}


def tool_path() -> str:
    path = os.environ.get("IMGUP_SIGV4_TOOL")
    if not path:
        pytest.fail("IMGUP_SIGV4_TOOL is not set: run this through `make sigv4` (or point it at "
                    "build/dev/tests/aws/sigv4_tool)")
    if not os.access(path, os.X_OK):
        pytest.fail(f"IMGUP_SIGV4_TOOL={path} is not an executable: build it first")
    return path


def run_tool(cases: list[dict]) -> list[dict]:
    lines = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases)
    proc = subprocess.run([tool_path()], input=lines.encode(), capture_output=True, timeout=600)
    # split("\n"), not splitlines(): the latter also breaks at U+0085 and U+2028 inside strings.
    out = [json.loads(line) for line in proc.stdout.decode().split("\n") if line]
    assert proc.returncode == 0, (proc.returncode, proc.stderr.decode()[-2000:], out[-3:])
    assert len(out) == len(cases)
    return out


# ---------------------------------------------------------------------------------------------
# botocore's side


def botocore_sign(case: dict) -> dict:
    credentials = Credentials(case["access_key"], case["secret_key"], case.get("token"))
    s3 = case["s3"]
    query_form = case["form"] == "query"
    if query_form:
        cls = auth.S3SigV4QueryAuth if s3 else auth.SigV4QueryAuth
        signer = cls(credentials, case["service"], case["region"], expires=case["expires"])
    else:
        cls = auth.S3SigV4Auth if s3 else auth.SigV4Auth
        signer = cls(credentials, case["service"], case["region"])

    host = next(v for n, v in case["headers"] if n.lower() == "host")
    request = AWSRequest(method=case["method"], url=f"https://{host.strip()}{case['path']}",
                         data=case["body"].encode())
    request.headers = HTTPHeaders()
    for name, value in case["headers"]:
        request.headers[name] = value  # appends: repeated names stay repeated
    if query_form:
        # A dict of lists keeps repeated names (percent_encode_sequence expands the lists).
        grouped: dict[str, list[str]] = {}
        for name, value in case["query"]:
            grouped.setdefault(name, []).append(value)
        request.params = grouped
    else:
        request.params = list(map(tuple, case["query"]))
    if case["unsigned"]:
        if s3:
            request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
        else:
            request.context["payload_signing_enabled"] = False
    elif s3:
        request.context["client_config"] = Config(s3={"payload_signing_enabled": True})

    captured = {}
    for step in ("canonical_request", "string_to_sign", "signature"):
        original = getattr(signer, step)

        def capture(*args, _original=original, _step=step):
            captured[_step] = _original(*args)
            return captured[_step]

        setattr(signer, step, capture)
    when = datetime.datetime.fromtimestamp(case["time"], tz=datetime.timezone.utc)
    with mock.patch("botocore.auth.get_current_datetime", return_value=when):
        signer.add_auth(request)

    result = dict(captured)
    if query_form:
        parts = urllib.parse.urlsplit(request.url)
        result["path"] = parts.path
        result["url_query"] = parts.query
    else:
        result["headers"] = {
            name.lower(): request.headers[name]
            for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token",
                         "X-Amz-Content-SHA256")
            if name in request.headers
        }
    return result


def imgup_request(case: dict) -> dict:
    """The same case as imgup's tool wants it."""
    tool_case = dict(case)
    tool_case.pop("unsigned")
    payload_hash = None
    if case["unsigned"]:
        payload_hash = UNSIGNED_PAYLOAD
    elif case["form"] == "query" and case["s3"]:
        payload_hash = UNSIGNED_PAYLOAD  # a presigned S3 URL never signs the body
    elif case.get("hash_given"):
        payload_hash = hashlib.sha256(case["body"].encode()).hexdigest()
    tool_case.pop("hash_given", None)
    tool_case["payload_hash"] = payload_hash
    if not case["s3"] and case["form"] == "header":
        # botocore adds X-Amz-Content-SHA256 for other services only with an unsigned payload.
        tool_case["content_sha256_header"] = case["unsigned"]
    return tool_case


def compare(case: dict, ours: dict, theirs: dict) -> list[str]:
    problems = []
    if "error" in ours:
        return [f"imgup refused: {ours['error']}"]
    for step in ("canonical_request", "string_to_sign", "signature"):
        if ours[step] != theirs[step]:
            problems.append(f"{step}:\n--- imgup\n{ours[step]}\n--- botocore\n{theirs[step]}")
    if case["form"] == "header":
        added = {name.lower(): value for name, value in ours["headers_to_add"]}
        if added != theirs["headers"]:
            problems.append(f"headers: imgup {added} botocore {theirs['headers']}")
    else:
        if theirs["path"] != case["path"]:
            problems.append(f"path: {theirs['path']!r} sent as {case['path']!r}")
        ours_q = sorted(ours["url_query"].split("&"))
        theirs_q = sorted(theirs["url_query"].split("&"))
        if ours_q != theirs_q:
            problems.append(f"url query:\n  imgup    {ours_q}\n  botocore {theirs_q}")
    return problems


# ---------------------------------------------------------------------------------------------
# The generator

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
RESERVED = "!$&'()*+,;=:@[]"
ODD_TEXT = [" ", "  ", "%", "%20", "%2F", "+", "\u00e9", "\u1234", "\u65e5\u672c", "\U0001f600",
            "\"", "<>", "\\", "^", "`", "{}", "|"]
PATH_SEGMENTS = ["", ".", "..", "...", "a", "example", "foo bar", "caf\u00e9", "\u1234",
                 "%41", "%2f", "a%20b", "~user", "-_."]
SERVICES = ["service", "execute-api", "dynamodb", "sts", "lambda", "sqs", "iam"]
REGIONS = ["us-east-1", "eu-west-3", "ap-southeast-2", "us-gov-west-1", "cn-north-1"]
HEADER_NAMES = ["My-Header1", "my-header1", "X-Amz-Meta-Name", "x-amz-meta-utf8", "Content-Type",
                "Range", "Cache-Control", "If-None-Match", "X-Custom", "x-amz-storage-class",
                "Content-MD5", "x-amz-server-side-encryption", "ETag", "Accept"]
UNSIGNED_HEADERS = ["User-Agent", "X-Amzn-Trace-Id", "Expect", "Transfer-Encoding",
                    "Connection", "Keep-Alive", "TE", "Upgrade", "traceparent"]


def rand_text(rng: random.Random, max_parts: int = 4, extra: str = "") -> str:
    parts = []
    for _ in range(rng.randint(0, max_parts)):
        kind = rng.random()
        if kind < 0.45:
            parts.append("".join(rng.choice(UNRESERVED) for _ in range(rng.randint(1, 6))))
        elif kind < 0.7:
            parts.append(rng.choice(RESERVED + extra))
        else:
            parts.append(rng.choice(ODD_TEXT))
    return "".join(parts)


def rand_path(rng: random.Random, s3: bool) -> str:
    if s3:
        # S3 keys as botocore's serialiser sends them: every byte but unreserved and '/' encoded,
        # and signed as sent ('//', '.', '..' kept).
        segments = [rng.choice(PATH_SEGMENTS + [rand_text(rng, 3, "?#")])
                    for _ in range(rng.randint(1, 5))]
        key = "/".join(segments)
        bucket = "/examplebucket" if rng.random() < 0.5 else ""
        return bucket + "/" + urllib.parse.quote(key, safe="/~")
    # Other services: any wire path (raw or already encoded); '?' and '#' end a URL's path.
    segments = [rng.choice(PATH_SEGMENTS + [rand_text(rng, 3)]) for _ in range(rng.randint(1, 6))]
    return "/" + "/".join(segments)


def rand_header_value(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.3:
        return rand_text(rng, 4)
    if kind < 0.5:
        return " " * rng.randint(0, 3) + rand_text(rng, 2) + "  \t " + rand_text(rng, 2) + \
            "\t" * rng.randint(0, 2)
    if kind < 0.65:  # a folded (multi-line) value
        lines = [rand_text(rng, 2) for _ in range(rng.randint(2, 4))]
        return lines[0] + "".join("\n" + rng.choice([" ", "  ", "\t", "   "]) + line
                                  for line in lines[1:])
    if kind < 0.75:
        return rng.choice(["", " ", "\t", "  \t  "])
    if kind < 0.85:
        return '"a   b   c"'
    return "\u00e9t\u00e9 \u65e5\u672c \U0001f600"


def make_case(rng: random.Random, index: int) -> dict:
    s3 = rng.random() < 0.5
    form = "query" if rng.random() < 0.5 else "header"
    service = "s3" if s3 else rng.choice(SERVICES)
    region = rng.choice(REGIONS)
    token = None
    if rng.random() < 0.4:
        token = base64.b64encode(rng.randbytes(rng.randint(16, 120))).decode()
    host = rng.choice([f"examplebucket.s3.{region}.amazonaws.com", f"{service}.{region}.amazonaws.com",
                       "127.0.0.1:9000", "localhost:4566", "example.amazonaws.com"])
    headers = [[rng.choice(["Host", "host", "HOST"]), rng.choice([host, f" {host} "])]]
    for _ in range(rng.randint(0, 5)):
        name = rng.choice(HEADER_NAMES)
        if name == "Content-Type" and form == "query":
            value = rng.choice(["image/jpeg", "application/json", " text/plain;  charset=utf-8 "])
        else:
            value = rand_header_value(rng)
        headers.append([name, value])
    if rng.random() < 0.2:
        headers.append([rng.choice(UNSIGNED_HEADERS), rand_header_value(rng)])
    rng.shuffle(headers)

    query = []
    names = [rand_text(rng, 2, "?#") for _ in range(3)] + ["", "a", "A", "prefix", "list-type"]
    for _ in range(rng.randint(0, 6)):
        name = rng.choice(names)
        value = rng.choice(["", rand_text(rng, 3, "?#/"), "2", "a b", "%2B"])
        query.append([name, value])

    body = ""
    if form == "header" and rng.random() < 0.5:
        body = rand_text(rng, 8)
    return {
        "id": index,
        "form": form,
        "s3": s3,
        "service": service,
        "region": region,
        "access_key": rng.choice(["AKIDEXAMPLE", "AKIAIOSFODNN7EXAMPLE", "ASIA0000000000000000"]),
        "secret_key": base64.b64encode(rng.randbytes(30)).decode(),
        "token": token,
        "time": rng.randint(946684800, 4102444799),  # 2000 .. 2099
        "expires": rng.choice([1, 60, 900, 3600, 86400, 604800, rng.randint(1, 604800)]),
        "method": rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"]),
        "path": rand_path(rng, s3),
        "query": query,
        "headers": headers,
        "body": body,
        "unsigned": rng.random() < 0.3,
        "hash_given": rng.random() < 0.5,
    }


def generated_cases() -> list[dict]:
    rng = random.Random(SEED)
    return [make_case(rng, i) for i in range(CASES)]


# ---------------------------------------------------------------------------------------------
# The tests


def test_imgup_signs_thousands_of_random_requests_exactly_like_botocore():
    cases = generated_cases()
    ours = run_tool([imgup_request(c) for c in cases])
    failures = []
    for case, result in zip(cases, ours):
        problems = compare(case, result, botocore_sign(case))
        if problems:
            failures.append((case, problems))
    report = "\n\n".join(f"case {json.dumps(c, ensure_ascii=False)}\n" + "\n".join(p)
                         for c, p in failures[:5])
    assert not failures, f"{len(failures)} of {len(cases)} cases differ:\n{report}"


def test_the_generator_reaches_every_kind_of_input():
    """The random cases hold each thing the differential test claims to cover."""
    cases = generated_cases()

    def count(predicate) -> int:
        return sum(1 for c in cases if predicate(c))

    assert count(lambda c: c["s3"] and c["form"] == "header") > 300
    assert count(lambda c: c["s3"] and c["form"] == "query") > 300
    assert count(lambda c: not c["s3"] and c["form"] == "header") > 300
    assert count(lambda c: not c["s3"] and c["form"] == "query") > 300
    assert count(lambda c: c["token"]) > 500
    assert count(lambda c: c["unsigned"]) > 500
    assert count(lambda c: c["body"]) > 300
    assert count(lambda c: "//" in c["path"]) > 50
    assert count(lambda c: "/./" in c["path"] + "/" or c["path"].endswith("/.")) > 50
    assert count(lambda c: "/../" in c["path"] + "/") > 50
    assert count(lambda c: " " in c["path"]) > 50
    assert count(lambda c: any(ord(ch) > 127 for ch in c["path"])) > 50
    assert count(lambda c: any(ch in c["path"] for ch in RESERVED)) > 50
    assert count(lambda c: "%" in c["path"] and not c["s3"]) > 50

    def repeated(c):
        names = [n for n, _ in c["query"]]
        return len(names) != len(set(names))

    assert count(repeated) > 300
    assert count(lambda c: any(n == "" for n, _ in c["query"])) > 300
    assert count(lambda c: any(v == "" for _, v in c["query"])) > 300
    assert count(lambda c: any("\n" in v for _, v in c["headers"])) > 300
    assert count(lambda c: any(v != v.strip() for _, v in c["headers"])) > 300
    assert count(lambda c: any("  " in v.strip() for _, v in c["headers"])) > 300
    assert count(lambda c: any(n.lower() in {h.lower() for h in UNSIGNED_HEADERS}
                               for n, _ in c["headers"])) > 100

    def repeated_header(c):
        names = [n.lower() for n, _ in c["headers"]]
        return len(names) != len(set(names))

    assert count(repeated_header) > 300


def test_a_wrong_signer_is_caught():
    """The comparison is not vacuous: a case with one flipped input no longer matches."""
    rng = random.Random(SEED + 1)
    case = make_case(rng, 0)
    theirs = botocore_sign(case)
    ours = run_tool([imgup_request(case)])[0]
    assert compare(case, ours, theirs) == []
    tampered = dict(case, region="us-west-2" if case["region"] != "us-west-2" else "us-east-1")
    assert compare(case, run_tool([imgup_request(tampered)])[0], theirs) != []


# ---- The known differences, each shown with both signers (see the module's docstring) -------


def base_case(**changes) -> dict:
    case = {
        "id": 0, "form": "header", "s3": False, "service": "service", "region": "us-east-1",
        "access_key": "AKIDEXAMPLE", "secret_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        "token": None, "time": 1440938160, "expires": 3600, "method": "GET", "path": "/",
        "query": [], "headers": [["Host", "example.amazonaws.com"]], "body": "",
        "unsigned": False,
    }
    case.update(changes)
    return case


@pytest.mark.parametrize("space", ["\u00a0", "\u2003", "\u0085", "\u001f", "\u3000"])
def test_difference_1_only_ascii_whitespace_is_trimmed(space):
    case = base_case(headers=[["Host", "example.amazonaws.com"], ["My-Header", f"a{space}{space}b"]])
    ours = run_tool([imgup_request(case)])[0]
    theirs = botocore_sign(case)
    assert f"my-header:a{space}{space}b\n" in ours["canonical_request"]
    assert "my-header:a b\n" in theirs["canonical_request"]  # botocore took it for whitespace
    # With ASCII whitespace the two agree.
    ascii_case = base_case(headers=[["Host", "example.amazonaws.com"], ["My-Header", "a \t\v\fb"]])
    assert compare(ascii_case, run_tool([imgup_request(ascii_case)])[0],
                   botocore_sign(ascii_case)) == []


def test_difference_2_a_presigned_form_content_type_is_signed():
    content_type = "application/x-www-form-urlencoded; charset=utf-8"
    case = base_case(form="query", method="POST",
                     headers=[["Host", "example.amazonaws.com"], ["Content-Type", content_type]])
    ours = run_tool([imgup_request(case)])[0]
    theirs = botocore_sign(case)
    assert ours["signed_headers"] == "content-type;host"  # as the suite's query form signs it
    assert "X-Amz-SignedHeaders=host\n" in theirs["canonical_request"]  # botocore dropped it
    other_type = base_case(form="query", method="POST",
                           headers=[["Host", "example.amazonaws.com"],
                                    ["Content-Type", "application/json"]])
    assert compare(other_type, run_tool([imgup_request(other_type)])[0],
                   botocore_sign(other_type)) == []


def test_difference_3_a_presigned_body_stays_a_body():
    # botocore takes a body it moves for a dict in JSON (or an already form-decoded dict).
    body = '{"Param1": "value1"}'
    case = base_case(form="query", method="POST", body=body)
    ours = run_tool([imgup_request(case)])[0]
    theirs = botocore_sign(case)
    assert ours["canonical_request"].endswith("\n" + hashlib.sha256(body.encode()).hexdigest())
    assert "Param1" not in ours["url_query"]  # as the suite does: the body stays a body
    assert "Param1=value1" in theirs["url_query"]  # botocore moved it into the URL
    assert theirs["canonical_request"].endswith("\n" + hashlib.sha256(b"").hexdigest())


def test_difference_4_presigned_parameter_order():
    case = base_case(form="query")
    ours = run_tool([imgup_request(case)])[0]
    theirs = botocore_sign(case)
    names = lambda q: [p.split("=")[0] for p in q.split("&")]  # noqa: E731
    assert names(ours["url_query"]) == ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                                        "X-Amz-SignedHeaders", "X-Amz-Expires", "X-Amz-Signature"]
    assert names(theirs["url_query"]).index("X-Amz-Expires") < \
        names(theirs["url_query"]).index("X-Amz-SignedHeaders")
    assert sorted(ours["url_query"].split("&")) == sorted(theirs["url_query"].split("&"))


def test_difference_5_websocket_handshake_headers_are_not_signed():
    case = base_case(headers=[["Host", "example.amazonaws.com"], ["Sec-WebSocket-Key", "abc"]])
    ours = run_tool([imgup_request(case)])[0]
    theirs = botocore_sign(case)
    assert ours["signed_headers"] == "host;x-amz-date"
    assert "sec-websocket-key:abc" in theirs["canonical_request"]
    without = base_case()
    assert run_tool([imgup_request(without)])[0]["signature"] == ours["signature"]
    assert compare(without, ours, botocore_sign(without)) == []
