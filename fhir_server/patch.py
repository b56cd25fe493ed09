"""JSON Patch (RFC 6902) on a resource: ``add remove replace move copy test``.

``apply_patch(resource, operations)`` returns the patched copy or raises FhirError: 400 for
a malformed patch document, 422 when an operation cannot apply (a missing path, a failed
``test``). The caller validates the result like any update.
"""

from __future__ import annotations

import base64
import binascii
import copy

import orjson

from .errors import FhirError

PATCH_TYPE = "application/json-patch+json"
_OPS = ("add", "remove", "replace", "move", "copy", "test")


def _malformed(msg: str) -> FhirError:
    return FhirError(400, f"Invalid JSON Patch: {msg}", code="structure")


def _unprocessable(msg: str) -> FhirError:
    return FhirError(422, f"JSON Patch cannot be applied: {msg}", code="processing")


def _pointer(text: object, where: str) -> list[str]:
    if not isinstance(text, str) or (text and not text.startswith("/")):
        raise _malformed(f"{where} must be a JSON Pointer such as '/status', got {text!r}")
    if text == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in text[1:].split("/")]


def _index(container: list, token: str, path: str, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise _unprocessable(f"{path}: {token!r} is not an array index")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise _unprocessable(f"{path}: index {index} is out of range")
    return index


def _parent(doc: object, parts: list[str], path: str) -> tuple[object, str]:
    node = doc
    for token in parts[:-1]:
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list):
            node = node[_index(node, token, path, allow_end=False)]
        else:
            raise _unprocessable(f"{path} does not exist")
    return node, parts[-1]


def _get(doc: object, parts: list[str], path: str) -> object:
    if not parts:
        return doc
    node, last = _parent(doc, parts, path)
    if isinstance(node, dict):
        if last not in node:
            raise _unprocessable(f"{path} does not exist")
        return node[last]
    if isinstance(node, list):
        return node[_index(node, last, path, allow_end=False)]
    raise _unprocessable(f"{path} does not exist")


def _remove(doc: object, parts: list[str], path: str) -> object:
    if not parts:
        raise _unprocessable("the whole resource cannot be removed")
    node, last = _parent(doc, parts, path)
    if isinstance(node, dict):
        if last not in node:
            raise _unprocessable(f"{path} does not exist")
        return node.pop(last)
    if isinstance(node, list):
        return node.pop(_index(node, last, path, allow_end=False))
    raise _unprocessable(f"{path} does not exist")


def _add(doc: object, parts: list[str], path: str, value: object, replace: bool) -> object:
    if not parts:
        return value
    node, last = _parent(doc, parts, path)
    if isinstance(node, dict):
        if replace and last not in node:
            raise _unprocessable(f"{path} does not exist")
        node[last] = value
    elif isinstance(node, list):
        index = _index(node, last, path, allow_end=not replace)
        if replace:
            node[index] = value
        else:
            node.insert(index, value)
    else:
        raise _unprocessable(f"{path}: the parent is not an object or array")
    return doc


def _equal(a: object, b: object) -> bool:
    """JSON equality (RFC 6902 ``test``): true and 1 differ, 1 and 1.0 do not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def apply_patch(resource: dict, operations: object) -> dict:
    """``resource`` with ``operations`` applied (the input is not modified)."""
    if not isinstance(operations, list):
        raise _malformed("the body must be a JSON array of operations")
    doc: object = copy.deepcopy(resource)
    for i, op in enumerate(operations):
        where = f"operation {i}"
        if not isinstance(op, dict) or op.get("op") not in _OPS:
            raise _malformed(f"{where} needs 'op' (one of {', '.join(_OPS)})")
        name = op["op"]
        path = op.get("path")
        parts = _pointer(path, f"{where}.path")
        if name in ("add", "replace", "test") and "value" not in op:
            raise _malformed(f"{where} ({name}) needs a 'value'")
        if name == "add":
            doc = _add(doc, parts, path, copy.deepcopy(op["value"]), replace=False)
        elif name == "replace":
            doc = _add(doc, parts, path, copy.deepcopy(op["value"]), replace=True)
        elif name == "remove":
            _remove(doc, parts, path)
        elif name == "test":
            if not _equal(_get(doc, parts, path), op["value"]):
                raise _unprocessable(f"test of {path} failed")
        else:  # move, copy
            source = _pointer(op.get("from"), f"{where}.from")
            if name == "move" and parts[: len(source)] == source and parts != source:
                raise _unprocessable(f"{where}: cannot move {op['from']} into itself")
            value = _get(doc, source, op["from"])
            if name == "move":
                _remove(doc, source, op["from"])
            doc = _add(doc, parts, path, copy.deepcopy(value), replace=False)
    if not isinstance(doc, dict):
        raise _unprocessable("the result is not a JSON object")
    return doc


def parse_patch(body: bytes | None) -> list:
    """A JSON Patch request body (``application/json-patch+json``) as a list of operations."""
    if not body:
        raise _malformed("the request body is empty")
    try:
        operations = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _malformed(f"not valid JSON: {exc}") from None
    if not isinstance(operations, list):
        raise _malformed("the body must be a JSON array of operations")
    return operations


def patch_from_binary(resource: object, where: str) -> list:
    """The JSON Patch carried by a Bundle entry's Binary resource (FHIR's way to batch it)."""
    if (not isinstance(resource, dict) or resource.get("resourceType") != "Binary"
            or resource.get("contentType") != PATCH_TYPE or not isinstance(resource.get("data"), str)):
        raise FhirError(400, f"{where}: a PATCH entry needs a Binary resource with contentType "
                        f"{PATCH_TYPE} and the patch in data (base64); FHIRPath Patch is not "
                        "supported", code="not-supported", expression=[f"{where}.resource"])
    try:
        raw = base64.b64decode(resource["data"], validate=True)
    except (binascii.Error, ValueError):
        raise _malformed(f"{where}.resource.data is not base64") from None
    return parse_patch(raw)
