# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""A JSON-RPC 2.0 server written from the specification alone (Flask), as
other stacks' servers behave: it answers on every path, has no /health, and
answers a body that is not a JSON-RPC request with an "Invalid Request"
error and HTTP 200. Methods: add (two numbers, by position or as {"a","b"}),
fail (error 42 "the answer is no"), note(x) (kept), notes() (what was noted, in
order).

Prints "listening on 127.0.0.1:PORT" once bound (port 0: a free one), then
serves until killed. Usage: /usr/bin/python3 jsonrpc_server.py
"""

import json
import sys

sys.dont_write_bytecode = True
from flask import Flask, Response, request  # noqa: E402
from interop_util import serve_flask  # noqa: E402

app = Flask(__name__)
notes = []


def error(code, message, id_=None):
    return {"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id_}


def add(params):
    if isinstance(params, list) and len(params) == 2:
        a, b = params
    elif isinstance(params, dict) and set(params) == {"a", "b"}:
        a, b = params["a"], params["b"]
    else:
        raise ValueError
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b)):
        raise ValueError
    return a + b


def answer(req):
    """The response object for one request; None for a notification."""
    if not isinstance(req, dict) or req.get("jsonrpc") != "2.0" or not isinstance(req.get("method"), str):
        return error(-32600, "Invalid Request")
    id_ = req.get("id")
    params = req.get("params", [])
    if req["method"] == "add":
        try:
            result = {"jsonrpc": "2.0", "result": add(params), "id": id_}
        except ValueError:
            result = error(-32602, "Invalid params", id_)
    elif req["method"] == "fail":
        result = error(42, "the answer is no", id_)
    elif req["method"] == "note" and isinstance(params, list) and len(params) == 1:
        notes.append(params[0])
        result = {"jsonrpc": "2.0", "result": True, "id": id_}
    elif req["method"] == "notes":
        result = {"jsonrpc": "2.0", "result": list(notes), "id": id_}
    else:
        result = error(-32601, "Method not found", id_)
    return result if "id" in req else None


@app.route("/", defaults={"path": ""}, methods=["POST"])
@app.route("/<path:path>", methods=["POST"])
def rpc(path):
    try:
        body = json.loads(request.get_data(as_text=True))
    except ValueError:
        return Response(json.dumps(error(-32700, "Parse error")), 200, mimetype="application/json")
    if isinstance(body, list):
        answers = [a for a in (answer(r) for r in body) if a is not None] if body else [error(-32600, "Invalid Request")]
        out = answers if answers else None
    else:
        out = answer(body)
    if out is None:
        return Response("", 204)
    return Response(json.dumps(out), 200, mimetype="application/json")


if __name__ == "__main__":
    serve_flask(app)
