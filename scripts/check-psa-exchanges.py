#!/usr/bin/env python3
"""Checks recorded Pinning Service API exchanges against the API's OpenAPI
document: every request's path, method, query parameters and JSON body,
and every answer's status and JSON body, must be ones the document
defines.

Usage: check-psa-exchanges.py SPEC.yaml EXCHANGES.json
EXCHANGES.json is a list of {method, path, query: [[k, v]...], body,
status, answer}, as the stand-in in `pinning::remote::standin` records
them. Exit 0: all conform; 1: some do not (each is printed); 3: PyYAML
or jsonschema is missing (`pip install pyyaml jsonschema`, or schemathesis,
which brings both).
"""
import json
import re
import sys

try:
    import jsonschema
    import yaml
except ImportError as e:  # pragma: no cover
    print(f"missing Python module: {e.name}; pip install pyyaml jsonschema", file=sys.stderr)
    sys.exit(3)


def main():
    spec = yaml.safe_load(open(sys.argv[1]))
    exchanges = json.load(open(sys.argv[2]))
    components = spec.get("components", {})

    def resolve(node):
        while isinstance(node, dict) and "$ref" in node:
            path = node["$ref"].lstrip("#/").split("/")
            node = spec
            for part in path:
                node = node[part]
        return node

    def validate(schema, value, where):
        schema = {**resolve(schema), "components": components}
        validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
        return [f"{where}: {e.message}" for e in validator.iter_errors(value)]

    templates = []
    for template, item in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        templates.append((re.compile(pattern), template, item))

    problems = []
    for n, ex in enumerate(exchanges):
        what = f"#{n} {ex['method']} {ex['path']} -> {ex['status']}"
        if ex["status"] == 429:
            continue  # throttling is the 4XX the document leaves to services
        match = [(t, item) for (p, t, item) in templates if p.match(ex["path"])]
        if not match:
            problems.append(f"{what}: no such path in the document")
            continue
        template, item = match[0]
        op = item.get(ex["method"].lower())
        if op is None:
            problems.append(f"{what}: no {ex['method']} on {template}")
            continue
        params = {resolve(p)["name"]: resolve(p) for p in item.get("parameters", []) + op.get("parameters", [])}
        authorized = ex["status"] != 401
        for key, value in ex["query"]:
            param = params.get(key)
            if param is None or param.get("in") != "query":
                problems.append(f"{what}: query parameter {key!r} is not in the document")
                continue
            if ex["status"] == 400 or not authorized:
                continue  # a refused request may break the document: that is why it was refused
            if "content" in param:
                schema = param["content"]["application/json"]["schema"]
                try:
                    parsed = json.loads(value)
                except ValueError:
                    problems.append(f"{what}: {key} is not JSON")
                    continue
            else:
                schema = resolve(param["schema"])
                if schema.get("type") == "array":
                    parsed = value.split(",")
                elif schema.get("type") == "integer":
                    parsed = int(value) if re.fullmatch(r"-?\d+", value) else value
                else:
                    parsed = value
            problems += validate(schema, parsed, f"{what}: query {key}")
        body_spec = op.get("requestBody")
        if body_spec and ex["status"] not in (400, 401):
            schema = resolve(body_spec)["content"]["application/json"]["schema"]
            problems += validate(schema, ex["body"], f"{what}: request body")
        responses = op["responses"]
        code = str(ex["status"])
        response = responses.get(code) or responses.get(code[0] + "XX") or responses.get("default")
        if response is None:
            problems.append(f"{what}: status {code} is not in the document")
            continue
        response = resolve(response)
        content = response.get("content", {}).get("application/json")
        if content is None:
            if ex["answer"] is not None:
                problems.append(f"{what}: a body where the document defines none")
            continue
        problems += validate(content["schema"], ex["answer"], f"{what}: answer")

    for p in problems:
        print(p)
    print(f"{len(exchanges)} exchanges checked, {len(problems)} problems", file=sys.stderr)
    sys.exit(1 if problems else 0)


main()
