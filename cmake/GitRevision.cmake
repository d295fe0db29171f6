# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# Script mode (cmake -P), run by every build: writes OUTPUT from INPUT (a
# configure_file template) with HARPC_GIT_REVISION set to the short commit hash
# of SOURCE_DIR, "-dirty" appended when tracked files differ from it, or
# "unknown" outside a git checkout. configure_file leaves OUTPUT untouched when
# nothing changed, so only what includes it recompiles, and only after a commit
# or an edit that flips "-dirty".
#   cmake -D SOURCE_DIR=... -D INPUT=... -D OUTPUT=... -D PROJECT_VERSION=... -P GitRevision.cmake
set(HARPC_GIT_REVISION unknown)
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} rev-parse --short HEAD
                  OUTPUT_VARIABLE revision OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE failed ERROR_QUIET)
  if(NOT failed AND revision)
    set(HARPC_GIT_REVISION ${revision})
    execute_process(COMMAND ${GIT_EXECUTABLE} -C ${SOURCE_DIR} status --porcelain --untracked-files=no
                    OUTPUT_VARIABLE changes RESULT_VARIABLE failed ERROR_QUIET)
    if(NOT failed AND NOT changes STREQUAL "")
      string(APPEND HARPC_GIT_REVISION -dirty)
    endif()
  endif()
endif()
configure_file(${INPUT} ${OUTPUT} @ONLY)
