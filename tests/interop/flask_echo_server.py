# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0

"""The Flask example of docs/protocol.md: POST /rpc answers with the JSON it was sent.

Prints "listening on 127.0.0.1:PORT" once bound (port 0: a free one), then
serves until killed. Usage: /usr/bin/python3 flask_echo_server.py
"""

import sys

sys.dont_write_bytecode = True
from flask import Flask, jsonify, request  # noqa: E402
from interop_util import serve_flask  # noqa: E402

app = Flask(__name__)


@app.route("/rpc", methods=["POST"])
def rpc():
    return jsonify(request.get_json())


if __name__ == "__main__":
    serve_flask(app)
