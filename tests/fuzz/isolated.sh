#!/bin/sh
# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# Runs a command in a network namespace of its own whose only interface is
# loopback (an unprivileged user namespace maps us to root inside it): the
# fuzz targets parse addresses from their input, and whatever they name,
# nothing but 127.0.0.1 is reachable.
#   tests/fuzz/isolated.sh PROGRAM ARGS...
if ! unshare --user --map-root-user --net true 2>/dev/null; then
  echo "isolated.sh: cannot create a network namespace (unshare --user --net: are unprivileged user namespaces enabled?)" >&2
  exit 1
fi
exec unshare --user --map-root-user --net sh -c 'ip link set lo up && exec "$@"' isolated "$@"
