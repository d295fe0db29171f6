"""The Flask example of docs/protocol.md: POST /rpc answers with the JSON it was sent.

Prints "listening on 127.0.0.1:PORT" once bound (port 0: a free one), then
serves until killed. Usage: /usr/bin/python3 flask_echo_server.py
"""

import sys

sys.dont_write_bytecode = True
from flask import Flask, jsonify, request  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

app = Flask(__name__)


@app.route("/rpc", methods=["POST"])
def rpc():
    return jsonify(request.get_json())


def main():
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
