# Copyright 2026 The harpc Authors
# SPDX-License-Identifier: Apache-2.0
#
# The installable library: libharpc.so and libharpc.a, both made of the object
# files of every library layer (harpc_layer without NOT_IN_LIBRARY), compiled
# once. The layers stay what harpc's own binary and tests link.
#
# Targets: harpc_shared (exported as harpc::harpc) and harpc_static (exported
# as harpc::harpc_static).

get_property(HARPC_LIBRARY_LAYERS GLOBAL PROPERTY HARPC_LIBRARY_LAYERS)
set(harpc_objects)
set(harpc_packages)  # what the layers link besides each other
foreach(layer IN LISTS HARPC_LIBRARY_LAYERS)
  list(APPEND harpc_objects $<TARGET_OBJECTS:${layer}>)
  get_target_property(links ${layer} LINK_LIBRARIES)
  list(FILTER links EXCLUDE REGEX "^harpc_")
  list(APPEND harpc_packages ${links})
endforeach()
list(REMOVE_DUPLICATES harpc_packages)
# The public headers use Boost.JSON and Asio (Boost headers, threads); the
# rest is the library's own business, which a static link must still name.
set(harpc_public_packages Boost::json Threads::Threads)
set(harpc_private_packages ${harpc_packages})
list(REMOVE_ITEM harpc_private_packages ${harpc_public_packages})
# Compiling against the public headers: C++20 (coroutines) and Asio's co_await.
set(HARPC_INTERFACE_DEFINITIONS BOOST_ASIO_HAS_CO_AWAIT)

add_library(harpc_shared SHARED ${harpc_objects})
add_library(harpc_static STATIC ${harpc_objects})
foreach(lib harpc_shared harpc_static)
  set_target_properties(${lib} PROPERTIES OUTPUT_NAME harpc)
  target_include_directories(${lib} INTERFACE
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include> $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_compile_features(${lib} INTERFACE cxx_std_20)
  target_compile_definitions(${lib} INTERFACE ${HARPC_INTERFACE_DEFINITIONS})
  target_link_libraries(${lib} PUBLIC ${harpc_public_packages} PRIVATE ${harpc_private_packages})
endforeach()
set_target_properties(harpc_static PROPERTIES EXPORT_NAME harpc_static)
# No ABI promise across minor versions before 1.0: libharpc.so.0.1.
set_target_properties(harpc_shared PROPERTIES EXPORT_NAME harpc
  VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
if(HARPC_SANITIZE STREQUAL "")
  # Every symbol the library uses is defined in it or in a library it names.
  # (Sanitizer runtimes leave theirs to the executable.)
  target_link_options(harpc_shared PRIVATE LINKER:--no-undefined)
endif()
