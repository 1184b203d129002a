#!/usr/bin/env python3
"""Convert OpenAPI schemas into JSON Schemas that kubeconform reads from disk.

Two sources, both available offline:

* ``k8s``: the Kubernetes OpenAPI v3 documents (``api/openapi-spec/v3/*.json``)
  shipped in the ``k8s.io/kubernetes`` Go module, which ``validate.sh`` fetches
  with ``go mod download``. Output: ``_definitions.json`` holding every
  component schema, plus one small file per group/version/kind named the way
  kubeconform's ``{{ .ResourceKind }}{{ .KindSuffix }}.json`` template expects
  (``deployment-apps-v1.json``, ``service-v1.json``,
  ``networkpolicy-networking-v1.json``), each a ``$ref`` into the definitions.
* ``crds``: CustomResourceDefinition YAML files (Strimzi, CloudNativePG).
  Output: ``<group>/<kind>_<version>.json`` for kubeconform's
  ``{{ .Group }}/{{ .ResourceKind }}_{{ .ResourceAPIVersion }}.json`` template.

Every object schema that lists ``properties`` and says nothing about extra
keys is closed (``additionalProperties: false``), the way the API server
rejects unknown fields under strict field validation; schemas marked
``x-kubernetes-preserve-unknown-fields`` stay open. ``nullable`` becomes a
``null`` type, ``x-kubernetes-int-or-string`` becomes integer-or-string, and
descriptions, defaults, formats and ``x-kubernetes-*`` annotations are
dropped (they do not constrain values, and ``format`` names such as ``int32``
mean nothing to a JSON Schema validator).

Standard library only for ``k8s``; ``crds`` needs PyYAML.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

DRAFT4 = "http://json-schema.org/draft-04/schema#"
COMPONENT_PREFIX = "#/components/schemas/"
# Keywords whose value is a list of alternative schemas: the alternatives are
# fragments of the enclosing object schema, so they are never closed themselves.
COMBINATORS = ("allOf", "anyOf", "oneOf")
DROPPED = {"description", "default", "example", "externalDocs", "format", "title"}


def convert(node: Any, ref_prefix: str, *, close: bool = True) -> Any:
    """Return a JSON Schema (draft 4) equivalent of one OpenAPI schema node."""
    if isinstance(node, list):
        return [convert(item, ref_prefix) for item in node]
    if not isinstance(node, dict):
        return node

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in DROPPED or key.startswith("x-") or key == "nullable":
            continue
        if key == "$ref":
            if not value.startswith(COMPONENT_PREFIX):
                raise ValueError(f"unsupported $ref {value!r}")
            out["$ref"] = ref_prefix + value[len(COMPONENT_PREFIX) :]
        elif key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: convert(sub, ref_prefix) for name, sub in value.items()}
        elif key in COMBINATORS:
            out[key] = [convert(sub, ref_prefix, close=False) for sub in value]
        elif key == "not":
            out[key] = convert(value, ref_prefix, close=False)
        elif key in ("items", "additionalProperties", "additionalItems"):
            out[key] = value if isinstance(value, bool) else convert(value, ref_prefix)
        elif key == "enum":
            out[key] = list(value)
        else:
            out[key] = value

    if node.get("x-kubernetes-int-or-string") and not any(k in node for k in COMBINATORS):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]

    if node.get("nullable"):
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out and None not in out["enum"]:
            out["enum"].append(None)

    open_object = node.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in node
    if close and "properties" in node and not open_object:
        out["additionalProperties"] = False
    return out


def write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, sort_keys=True, separators=(",", ":")) + "\n")


def kind_file_name(kind: str, group: str, version: str) -> str:
    """File name kubeconform derives from KindSuffix (first label of the group)."""
    suffix = f"-{group.split('.')[0].lower()}" if group else ""
    return f"{kind.lower()}{suffix}-{version.lower()}.json"


def convert_kubernetes(openapi_dir: Path, out: Path) -> int:
    """Write the Kubernetes built-in schemas; return the number of kinds."""
    components: dict[str, Any] = {}
    files = sorted(openapi_dir.glob("*.json"))
    if not files:
        raise SystemExit(f"no OpenAPI v3 documents in {openapi_dir}")
    for path in files:
        document = json.loads(path.read_text())
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            if name in components and components[name] != schema:
                raise SystemExit(f"conflicting definitions of {name} in {path.name}")
            components[name] = schema

    out.mkdir(parents=True, exist_ok=True)
    write_json(
        out / "_definitions.json",
        {
            "$schema": DRAFT4,
            "definitions": {
                name: convert(schema, "#/definitions/") for name, schema in components.items()
            },
        },
    )
    written: set[str] = set()
    for name, schema in sorted(components.items()):
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            file_name = kind_file_name(gvk["kind"], gvk.get("group", ""), gvk["version"])
            if file_name in written:
                continue
            written.add(file_name)
            write_json(
                out / file_name,
                {"$schema": DRAFT4, "$ref": f"_definitions.json#/definitions/{name}"},
            )
    return len(written)


def convert_crds(crd_files: list[Path], out: Path) -> int:
    """Write one schema per served CRD version; return the number written."""
    import yaml  # PyYAML; only this sub-command needs it

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    count = 0
    for path in crd_files:
        with path.open() as handle:
            documents = [d for d in yaml.load_all(handle, Loader=loader) if d]
        for crd in documents:
            if crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            group, kind = spec["group"], spec["names"]["kind"]
            for version in spec["versions"]:
                schema = (version.get("schema") or {}).get("openAPIV3Schema")
                if not version.get("served", True) or schema is None:
                    continue
                document = convert(schema, "#/definitions/")
                document["$schema"] = DRAFT4
                write_json(out / group / f"{kind.lower()}_{version['name']}.json", document)
                count += 1
    return count


def fingerprint(paths: list[Path]) -> str:
    """Hash of this converter and the given input files (cache key)."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    for path in sorted(paths):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    k8s = sub.add_parser("k8s", help="Kubernetes OpenAPI v3 directory -> JSON Schemas")
    k8s.add_argument("--openapi-dir", type=Path, required=True)
    k8s.add_argument("--out", type=Path, required=True)
    crds = sub.add_parser("crds", help="CRD YAML files -> JSON Schemas")
    crds.add_argument("--crd-dir", type=Path, action="append", required=True)
    crds.add_argument("--out", type=Path, required=True)
    fp = sub.add_parser("fingerprint", help="print the cache key for a set of input directories")
    fp.add_argument("dirs", type=Path, nargs="*")
    args = parser.parse_args(argv)

    if args.command == "k8s":
        count = convert_kubernetes(args.openapi_dir, args.out)
        print(f"wrote {count} Kubernetes kind schemas to {args.out}", file=sys.stderr)
    elif args.command == "crds":
        files = sorted(p for d in args.crd_dir for p in d.glob("*.yaml"))
        if not files:
            raise SystemExit(f"no CRD files in {', '.join(map(str, args.crd_dir))}")
        count = convert_crds(files, args.out)
        print(f"wrote {count} custom resource schemas to {args.out}", file=sys.stderr)
    else:
        print(fingerprint([p for d in args.dirs for p in d.glob("*.yaml")]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
