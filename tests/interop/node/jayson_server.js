// Copyright 2026 The harpc Authors
// SPDX-License-Identifier: Apache-2.0
//
// A JSON-RPC 2.0 server built with jayson from npm, served by jayson's own
// HTTP server as its users run it (POST on any path; no /health: GET is 405).
// Methods: add(a, b), fail() (error 42 "the answer is no"), note(x) (kept),
// notes() (what was noted, in order).
// Prints "listening on 127.0.0.1:PORT" once bound to a free port, then serves
// until killed. Usage: node jayson_server.js
'use strict';
const jayson = require('jayson');

const notes = [];
const server = new jayson.Server({
  add(args, callback) {
    const [a, b] = Array.isArray(args) ? args : [args.a, args.b];
    if (typeof a !== 'number' || typeof b !== 'number') {
      return callback({ code: -32602, message: 'Invalid params' });
    }
    callback(null, a + b);
  },
  fail(args, callback) {
    callback({ code: 42, message: 'the answer is no' });
  },
  note(args, callback) {
    notes.push(Array.isArray(args) ? args[0] : args);
    callback(null, true);
  },
  notes(args, callback) {
    callback(null, notes);
  },
});

const http = server.http();
http.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening on 127.0.0.1:${http.address().port}\n`);
});
