# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# Builds every layer probe (tests/layers/CMakeLists.txt) and checks that the
# right-way ones compile and the wrong-way ones do not.
set(failures "")
foreach(probe IN LISTS PROBES)
  string(REPLACE ":" ";" parts "${probe}")
  list(GET parts 0 expect)
  list(GET parts 1 target)
  execute_process(COMMAND ${CMAKE_COMMAND} --build ${BUILD_DIR} --target ${target}
                  RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(expect STREQUAL "right" AND NOT result EQUAL 0)
    string(APPEND failures "${target}: an allowed include failed to compile:\n${out}\n")
  elseif(expect STREQUAL "wrong" AND result EQUAL 0)
    string(APPEND failures "${target}: a wrong-way include compiled\n")
  elseif(expect STREQUAL "wrong" AND NOT out MATCHES "No such file or directory|file not found")  # gcc | clang
    string(APPEND failures "${target}: failed for another reason than the missing header:\n${out}\n")
  else()
    message(STATUS "${target}: ${expect} as expected")
  endif()
endforeach()
if(failures)
  message(FATAL_ERROR "${failures}")
endif()
