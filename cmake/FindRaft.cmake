# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# Canonical's C Raft (libraft, Debian's libraft-dev) and libuv, which harpc's
# replication layer also calls directly, and lz4, which a static libraft needs
# and its pkg-config file does not list.
#
# Defines the imported target Raft::Raft. harpc's own build uses it, and so
# does an installed harpc's package config (harpcConfig.cmake), for libharpc.a.
find_path(Raft_INCLUDE_DIR raft.h)
find_library(Raft_LIBRARY raft)
find_library(Raft_UV_LIBRARY uv)
find_library(Raft_LZ4_LIBRARY lz4)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(Raft
  REQUIRED_VARS Raft_LIBRARY Raft_INCLUDE_DIR Raft_UV_LIBRARY Raft_LZ4_LIBRARY)

if(Raft_FOUND AND NOT TARGET Raft::Raft)
  add_library(Raft::Raft UNKNOWN IMPORTED)
  set_target_properties(Raft::Raft PROPERTIES
    IMPORTED_LOCATION "${Raft_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${Raft_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "${Raft_UV_LIBRARY};${Raft_LZ4_LIBRARY}")
endif()
mark_as_advanced(Raft_INCLUDE_DIR Raft_LIBRARY Raft_UV_LIBRARY Raft_LZ4_LIBRARY)
