# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# `cpack -G DEB` in the build dir (`make package`): two Debian packages from
# the install components (cmake/install.cmake), after a build:
#   harpc      the harpc binary and libharpc.so.<major>.<minor>; its Depends
#              computed by dpkg-shlibdeps (dpkg-dev)
#   harpc-dev  headers, libharpc.so, libharpc.a, the CMake package and harpc.pc;
#              depends on harpc (= version) and the -dev packages a compile
#              against the headers or a link of libharpc.a needs
set(HARPC_PACKAGE_MAINTAINER "harpc maintainers <maintainers@users.noreply.b-seed-cfd7f7b5.example>"
    CACHE STRING "Maintainer field of the Debian packages: \"Name <email>\"")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME harpc)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT ${HARPC_PACKAGE_MAINTAINER})
set(CPACK_STRIP_FILES ON)  # and debug info out of libharpc.a (cmake/install.cmake)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL Runtime Development)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # harpc_0.1.0_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME harpc)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION net)
# Each description: its first line is the synopsis.
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
  "high-availability RPC framework over HTTP/1.1 + JSON
The harpc binary (serve, call, bench, sentinel, status, coordinator,
transfer, demo) and the shared library libharpc: servers, load-balancing
clients that survive failures, sentinels, replicated groups and
distributed transactions.")
# A shlibs file in harpc, so that dpkg-shlibdeps maps libharpc.so.0.1 to it.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)

set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_NAME harpc-dev)
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEVELOPMENT_DEPENDS Runtime)
set(CPACK_DEBIAN_DEVELOPMENT_DESCRIPTION
  "high-availability RPC framework over HTTP/1.1 + JSON (development files)
Headers, libharpc.so and libharpc.a, the CMake package
(find_package(harpc)) and the pkg-config file harpc.pc.")
# Headers: Boost.JSON and Asio. libharpc.a: everything it links.
set(CPACK_DEBIAN_DEVELOPMENT_PACKAGE_DEPENDS
  "libboost1.81-dev, libboost-json1.81-dev, libboost-url1.81-dev, libspdlog-dev, libfmt-dev, libsqlite3-dev, libssl-dev, libraft-dev, libuv1-dev, liblz4-dev")

include(CPack)
