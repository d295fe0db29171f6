# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# `cmake --install build [--prefix DIR]` (docs/install.md). Two components,
# which are also the two Debian packages (cmake/package.cmake):
#   Runtime      bin/harpc, lib/libharpc.so.<major>.<minor>
#   Development  include/harpc/*.h, lib/libharpc.so, lib/libharpc.a,
#                lib/cmake/harpc/ (find_package(harpc)), lib/pkgconfig/harpc.pc
include(CMakePackageConfigHelpers)
set(HARPC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/harpc)

install(TARGETS harpc RUNTIME COMPONENT Runtime)
install(TARGETS harpc_shared harpc_static EXPORT harpcTargets
  LIBRARY COMPONENT Runtime NAMELINK_COMPONENT Development
  ARCHIVE COMPONENT Development)
# `cmake --install --strip` and cpack strip the programs and libharpc.so; the
# archive loses its debug info (its symbols are what a link needs).
install(CODE "
  if(CMAKE_INSTALL_DO_STRIP)
    execute_process(COMMAND ${CMAKE_STRIP} --strip-debug
      \$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:harpc_static>
      COMMAND_ERROR_IS_FATAL ANY)
  endif()" COMPONENT Development)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/harpc
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT Development FILES_MATCHING PATTERN "*.h")

# find_package(harpc CONFIG REQUIRED): harpc::harpc (shared), harpc::harpc_static.
install(EXPORT harpcTargets NAMESPACE harpc:: DESTINATION ${HARPC_CMAKE_DIR} COMPONENT Development)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/harpcConfig.cmake.in
  ${CMAKE_BINARY_DIR}/generated/harpcConfig.cmake INSTALL_DESTINATION ${HARPC_CMAKE_DIR})
# Same minor version: libharpc.so.<major>.<minor> is the ABI (cmake/library.cmake).
write_basic_package_version_file(${CMAKE_BINARY_DIR}/generated/harpcConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/generated/harpcConfig.cmake
              ${CMAKE_BINARY_DIR}/generated/harpcConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/cmake/FindRaft.cmake
  DESTINATION ${HARPC_CMAKE_DIR} COMPONENT Development)

# pkg-config: relocatable, its prefix found from where harpc.pc lies.
file(RELATIVE_PATH HARPC_PC_PREFIX /pkg/${CMAKE_INSTALL_LIBDIR}/pkgconfig /pkg)
list(JOIN HARPC_INTERFACE_DEFINITIONS " -D" HARPC_PC_DEFINITIONS)
configure_file(${PROJECT_SOURCE_DIR}/cmake/harpc.pc.in ${CMAKE_BINARY_DIR}/generated/harpc.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/generated/harpc.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT Development)
