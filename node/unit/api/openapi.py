"""The OpenAPI 3.1 description of the integration API, written as data and served at
/api/v1/openapi.json; tests keep it and the routes the same."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from lienthong.node.unit.api.reads import STATES

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_ERRORS = {str(s): _PROBLEM for s in (400, 401, 403, 404)}
_POST_ERRORS = _ERRORS | {str(s): _PROBLEM for s in (409, 413, 415, 422)}
_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}$"},
}
_IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
_CURSOR = {"name": "cursor", "in": "query", "schema": {"type": "string", "maxLength": 200}}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _post(summary: str, schema: dict[str, Any], answer: dict[str, Any], code="200", params=()):
    return {
        "summary": summary,
        "parameters": [*params, _IDEMPOTENCY],
        "requestBody": _body(schema),
        "responses": {code: _json(answer)} | _POST_ERRORS,
    }


_OBJECT = {"type": "object"}
_TEXT = {"type": "string", "minLength": 1}
_SEND = {
    "type": "object",
    "required": ["metadata", "recipients"],
    "additionalProperties": False,
    "properties": {
        "metadata": _OBJECT,
        "recipients": {"type": "array", "items": _TEXT, "minItems": 1},
        "business": {"enum": ["new", "update", "replace"]},
        "targets": {"type": "array", "items": _TEXT},
        "reason": _TEXT,
        "paper": {"type": "boolean"},
        "uploads": {"type": "array", "items": _TEXT},  # complete resumable uploads, by id
    },
}
# A file's digital signatures (docs/SIGNATURES.md): the check of the whole PDF, and each
# signature found in it (crypto/pdf_signatures.py, SignatureResult). Null: not a PDF.
_SIGNATURE_CHECK = {
    "type": ["object", "null"],
    "required": ["status", "reason_code", "reason"],
    "properties": {
        "status": {"enum": ["valid", "untrusted", "invalid", "unsigned", "unreadable", "pending"]},
        "reason_code": {"type": "string"},
        "reason": {"type": "string"},
    },
}
_PDF_SIGNATURE = {
    "type": "object",
    "required": ["status", "reason", "signer_name", "organisation", "position", "revocation"],
    "properties": {
        "field": {"type": "string"},
        "status": {"enum": ["valid", "untrusted", "invalid"]},
        "reason_code": {"type": "string"},
        "reason": {"type": "string"},
        "signer_name": {"type": "string"},
        "organisation": {"type": "string"},
        "position": {"type": "string"},
        "issuer": {"type": "string"},
        "signing_time": {"type": ["string", "null"]},
        "timestamp_time": {"type": ["string", "null"]},
        "intact": {"type": "boolean"},
        "trusted": {"type": "boolean"},
        "changed_after": {"enum": ["none", "allowed", "changed"]},
        "revocation": {"enum": ["not_checked", "checked"]},
        "revocation_note": {"type": "string"},
    },
}
_DOCUMENT = {
    "type": "object",
    "properties": {
        "attachments": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "name", "signature_check", "signatures"],
                "properties": {
                    "signature_check": _SIGNATURE_CHECK,
                    "signatures": {"type": "array", "items": _PDF_SIGNATURE},
                },
            },
        },
    },
}
_UPLOAD_ID = _ID | {"schema": {"type": "string", "pattern": "^[0-7][0-9A-HJKMNP-TV-Z]{25}$"}}
_UPLOAD = {  # node/unit/api/uploads.py
    "type": "object",
    "required": ["id", "name", "length", "offset", "complete", "expires_at"],
    "properties": {
        "id": {"type": "string"},
        "href": {"type": "string"},
        "name": {"type": "string"},
        "length": {"type": "integer", "minimum": 0},
        "offset": {"type": "integer", "minimum": 0},
        "complete": {"type": "boolean"},
        "sha256": {"type": ["string", "null"]},
        "expires_at": {"type": "string", "format": "date-time"},
    },
}
_OFFSET_HEADERS = {
    "Upload-Offset": {"schema": {"type": "integer", "minimum": 0}},
    "Upload-Length": {"schema": {"type": "integer", "minimum": 0}},
}
_UPLOAD_PATHS = {
    "/uploads": {
        "post": _post(
            "Begin a resumable upload of one file (its name, length and SHA-256)",
            {
                "type": "object",
                "required": ["name", "length"],
                "additionalProperties": False,
                "properties": {
                    "name": _TEXT,
                    "length": {"type": "integer", "minimum": 0},
                    "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                },
            },
            _UPLOAD,
            code="201",
        )
    },
    "/uploads/{id}": {
        "patch": {
            "summary": "Append a piece at Upload-Offset (the offset reached)",
            "parameters": [
                _UPLOAD_ID,
                {
                    "name": "Upload-Offset",
                    "in": "header",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 0},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {"application/offset+octet-stream": {"schema": {}}},
            },
            "responses": {"200": _json(_UPLOAD) | {"headers": _OFFSET_HEADERS}} | _POST_ERRORS,
        },
        "get": {
            "summary": "How far the upload is (also in Upload-Offset)",
            "parameters": [_UPLOAD_ID],
            "responses": {"200": _json(_UPLOAD) | {"headers": _OFFSET_HEADERS}} | _ERRORS,
        },
        "head": {
            "summary": "How far the upload is, in Upload-Offset and Upload-Length",
            "parameters": [_UPLOAD_ID],
            "responses": {"200": {"description": "OK", "headers": _OFFSET_HEADERS}} | _ERRORS,
        },
        "delete": {
            "summary": "Abandon the upload: its bytes are removed",
            "parameters": [_UPLOAD_ID],
            "responses": {"204": {"description": "Removed"}} | _ERRORS | {"409": _PROBLEM},
        },
    },
}


# edXML (QCVN 102:2016) in and out (node/unit/api/edxml.py, docs/INTEGRATION.md "edXML").
_EDXML_IMPORTED = {
    "type": "object",
    "required": ["id", "created", "document_id", "sender", "number", "attachments", "href"],
    "properties": {
        "id": _TEXT,
        "created": {"type": "boolean"},
        "document_id": _TEXT,
        "sender": _TEXT,
        "number": _TEXT,
        "attachments": {"type": "integer", "minimum": 0},
        "href": _TEXT,
    },
}
_XML = {"application/xml": {"schema": {"type": "string"}}}
_EDXML_PATHS = {
    "/edxml": {
        "post": {
            "summary": "Take an edXML package in as an incoming document (scope process)",
            "parameters": [_IDEMPOTENCY],
            "requestBody": {"required": True, "content": _XML},
            "responses": {
                "201": _json(_EDXML_IMPORTED, "Imported"),
                "200": _json(_EDXML_IMPORTED, "Imported before: nothing stored again"),
            }
            | _POST_ERRORS,
        }
    },
    "/documents/{id}/edxml": {
        "get": {
            "summary": "A document as an edXML package, its attachments inline",
            "parameters": [_ID],
            "responses": {"200": {"description": "The package", "content": _XML}}
            | _ERRORS
            | {"409": _PROBLEM},
        }
    },
}


_USERNAME = {"type": "string", "minLength": 1, "maxLength": 64}
_USERNAMES = {"type": "array", "items": _USERNAME, "maxItems": 50}
_NOTE = {"type": "string", "minLength": 1, "maxLength": 2000}
_ASSIGNMENT = {
    "type": "object",
    "required": ["id", "version", "lead"],
    "properties": {
        "id": _TEXT,
        "version": {"type": "integer"},
        "lead": _USERNAME,
        "co": _USERNAMES,
        "info": _USERNAMES,
        "deadline": {"type": ["string", "null"]},
        "note": {"type": ["string", "null"]},
        "instructed_by": {"type": ["string", "null"]},
        "completed_at": {"type": ["integer", "null"]},
        "result": {"type": ["string", "null"]},
        "answer": {"type": ["string", "null"]},
    },
}
# The office's work (node/unit/api/work.py): assignment and completion, scope process.
_WORK_PATHS = {
    "/documents/{id}/assignment": {
        "post": _post(
            "Assign or reassign a registered received document, on a leader's instruction",
            {
                "type": "object",
                "required": ["lead", "instructed_by", "version"],
                "additionalProperties": False,
                "properties": {
                    "lead": _USERNAME,
                    "co": _USERNAMES,
                    "info": _USERNAMES,
                    "deadline": {"type": "string", "format": "date"},
                    "note": _NOTE,
                    "instructed_by": _USERNAME,
                    "version": {"type": "integer", "minimum": 0},
                },
            },
            _ASSIGNMENT,
            params=[_ID],
        )
    },
    "/documents/{id}/completion": {
        "post": _post(
            "Report that the lead completed a received document",
            {
                "type": "object",
                "required": ["lead", "result"],
                "additionalProperties": False,
                "properties": {
                    "lead": _USERNAME,
                    "result": _NOTE,
                    "answer": {"type": "string", "pattern": "^[0-9A-HJKMNP-TV-Z]{26}$"},
                },
            },
            _ASSIGNMENT,
            params=[_ID],
        )
    },
}


# Copies (node/unit/api/copies.py): sao y, trích sao, sao lục of a document here, scope send.
_COPY_PATHS = {
    "/documents/{id}/copies": {
        "post": _post(
            "Send a copy (sao y, trích sao, sao lục) of a document here, numbered in the "
            "copy register and linked to it",
            {
                "type": "object",
                "required": ["form", "metadata", "recipients"],
                "additionalProperties": False,
                "properties": {
                    "form": {"enum": ["sao_y", "trich_sao", "sao_luc"]},
                    "metadata": _OBJECT,
                    "recipients": {"type": "array", "items": _TEXT, "minItems": 1},
                    "paper": {"type": "boolean"},
                    "uploads": {"type": "array", "items": _TEXT},
                },
            },
            {
                "type": "object",
                "required": ["id", "href", "copy_of", "form", "type", "number"],
                "properties": {
                    "id": _TEXT,
                    "href": _TEXT,
                    "copy_of": _TEXT,
                    "form": {"enum": ["sao_y", "trich_sao", "sao_luc"]},
                    "type": _TEXT,
                    "number": _TEXT,
                },
            },
            code="201",
            params=[_ID],
        )
    },
}


def _with_files(operation: dict[str, Any]) -> dict[str, Any]:
    """A send also as multipart/form-data: the part `document` (the JSON) first, then a part
    `file` per attachment (node/unit/api/writes.py)."""
    operation["requestBody"]["content"]["multipart/form-data"] = {
        "schema": {
            "type": "object",
            "required": ["document"],
            "properties": {
                "document": _SEND,
                "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
            },
        },
        "encoding": {"document": {"contentType": "application/json"}},
    }
    return operation


SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "lienthong integration API",
        "version": "1",
        "description": "For the office's own document system (DMS); docs/INTEGRATION.md.",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "paths": {
        "/openapi.json": {
            "get": {
                "summary": "This description",
                "security": [],
                "responses": {"200": _json(_OBJECT)},
            }
        },
        "/documents": {
            "get": {
                "summary": "Documents received (in) or sent (out), newest first",
                "parameters": [
                    {
                        "name": "direction",
                        "in": "query",
                        "required": True,
                        "schema": {"enum": ["in", "out"]},
                    },
                    {"name": "state", "in": "query", "schema": {"enum": list(STATES)}},
                    {
                        "name": "since",
                        "in": "query",
                        "schema": {"type": "string", "format": "date-time"},
                    },
                    _CURSOR,
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["documents", "next_cursor"],
                            "properties": {
                                "documents": {"type": "array", "items": _OBJECT},
                                "next_cursor": {"type": ["string", "null"]},
                            },
                        }
                    )
                }
                | _ERRORS,
            },
            "post": _with_files(
                _post(
                    "Send a document (JSON; or multipart/form-data with its files)",
                    _SEND,
                    {
                        "type": "object",
                        "required": ["id"],
                        "properties": {"id": {"type": "string"}},
                    },
                    code="201",
                )
            ),
        },
        "/documents/{id}": {
            "get": {
                "summary": "One document: metadata, signature, files, timeline, recipients",
                "parameters": [_ID],
                "responses": {"200": _json(_DOCUMENT)} | _ERRORS,
            }
        },
        "/documents/{id}/files/{index}": {
            "get": {
                "summary": "One file of a document, streamed",
                "parameters": [
                    _ID,
                    {
                        "name": "index",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0, "maximum": 9999},
                    },
                ],
                "responses": {
                    "200": {
                        "description": "The file's bytes",
                        "content": {"application/octet-stream": {"schema": {}}},
                    }
                }
                | _ERRORS,
            }
        },
        "/documents/{id}/status": {
            "post": _post(
                "Set the status of a received document",
                {
                    "type": "object",
                    "required": ["status"],
                    "additionalProperties": False,
                    "properties": {
                        "status": {
                            "enum": ["accepted", "rejected", "assigned", "in_progress", "completed"]
                        },
                        "reason": _TEXT,
                        "assignee": _TEXT,
                        "note": _TEXT,
                    },
                },
                _OBJECT,
                params=[_ID],
            )
        },
        "/documents/{id}/recall": {
            "post": _post(
                "Recall a sent document",
                {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"reason": _TEXT},
                },
                _OBJECT,
                params=[_ID],
            )
        },
        "/documents/{id}/recall-answer": {
            "post": _post(
                "Agree to or refuse a recall of a received document",
                {
                    "type": "object",
                    "required": ["agree"],
                    "additionalProperties": False,
                    "properties": {"agree": {"type": "boolean"}, "reason": _TEXT},
                },
                _OBJECT,
                params=[_ID],
            )
        },
        "/events": {  # node/unit/events_feed.py, docs/INTEGRATION.md "Events"
            "get": {
                "summary": "Events after an id: at once, or the first within `wait` seconds "
                "(long-poll); Accept: text/event-stream streams them",
                "parameters": [
                    {"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0}},
                    {
                        "name": "wait",
                        "in": "query",
                        "description": "seconds; more than 60 is cut to 60",
                        "schema": {"type": "integer", "minimum": 0},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500},
                    },
                ],
                "responses": {"200": _json(_OBJECT)} | _ERRORS,
            }
        },
        "/units": {
            "get": {
                "summary": "The units of the directory",
                "responses": {"200": _json(_OBJECT)} | _ERRORS,
            }
        },
        "/registers/{kind}/{year}": {
            "get": {
                "summary": "A year's register, in number order, paged",
                "parameters": [
                    {
                        "name": "kind",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": ["incoming", "outgoing"]},
                    },
                    {
                        "name": "year",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1900, "maximum": 9999},
                    },
                    _CURSOR,
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                    },
                ],
                "responses": {"200": _json(_OBJECT)} | _ERRORS,
            }
        },
    }
    | _UPLOAD_PATHS
    | _EDXML_PATHS
    | _WORK_PATHS
    | _COPY_PATHS,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "responses": {
            "Problem": {
                "description": "RFC 9457 problem details",
                "content": {
                    "application/problem+json": {
                        "schema": {
                            "type": "object",
                            "required": ["type", "title", "status", "detail"],
                            "properties": {
                                "type": {"type": "string"},
                                "title": {"type": "string"},
                                "status": {"type": "integer"},
                                "detail": {"type": "string"},
                                "errors": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["field", "message"],
                                        "properties": {
                                            "field": {"type": "string"},
                                            "message": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        }
                    }
                },
            }
        },
    },
}
_BODY = json.dumps(SPEC, ensure_ascii=False, indent=1).encode("utf-8")


async def openapi_json(request: web.Request) -> web.Response:
    return web.Response(body=_BODY, content_type="application/json")
