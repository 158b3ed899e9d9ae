# bundle.cmake — a bundle build's dependencies (scripts/make-bundle.sh) as imported
# targets, taken from ANILA_BUNDLE only, never from the system's packages:
#   nlohmann_json::nlohmann_json, CLI11::CLI11    headers
#   fmt::fmt                                     headers, FMT_HEADER_ONLY
#   anila_bundle::zlib                           bundled zlib.h + the system's runtime libz.so.1
# Used by CMakeLists.txt (with ANILA_BUNDLE set) and installed as anilaBundle.cmake
# so that find_package(anila) works from a bundle build's install too.
if(NOT IS_ABSOLUTE "${ANILA_BUNDLE}")
  get_filename_component(ANILA_BUNDLE "${ANILA_BUNDLE}" ABSOLUTE BASE_DIR "${CMAKE_SOURCE_DIR}")
endif()
if(NOT EXISTS "${ANILA_BUNDLE}/include/nlohmann/json.hpp")
  message(FATAL_ERROR "ANILA_BUNDLE=${ANILA_BUNDLE} is not a bundle (no include/nlohmann/json.hpp); "
                      "make one with scripts/make-bundle.sh on a machine with the packages")
endif()

foreach(_anila_target nlohmann_json::nlohmann_json CLI11::CLI11 fmt::fmt)
  if(NOT TARGET ${_anila_target})
    add_library(${_anila_target} INTERFACE IMPORTED)
    set_target_properties(${_anila_target} PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${ANILA_BUNDLE}/include")
  endif()
endforeach()
set_property(TARGET fmt::fmt PROPERTY INTERFACE_COMPILE_DEFINITIONS FMT_HEADER_ONLY=1)

# zlib: only its runtime library is needed from the system (Python itself links it).
if(ANILA_ZLIB AND NOT TARGET anila_bundle::zlib)
  find_library(ANILA_ZLIB_LIBRARY NAMES libz.so.1 z)
  if(ANILA_ZLIB_LIBRARY AND EXISTS "${ANILA_BUNDLE}/include/zlib.h")
    add_library(anila_bundle::zlib UNKNOWN IMPORTED)
    set_target_properties(anila_bundle::zlib PROPERTIES
      IMPORTED_LOCATION "${ANILA_ZLIB_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${ANILA_BUNDLE}/include")
  else()
    message(STATUS "anila: no runtime libz.so.1 found; building without zlib")
    set(ANILA_ZLIB OFF)
  endif()
endif()
if(ANILA_ZLIB)
  set(ANILA_ZLIB_TARGET anila_bundle::zlib)
endif()

# GoogleTest from the bundled source, compiled with LibTorch's flags (a pip torch
# may use the pre-C++11 string ABI: gtest must match the tests).
function(anila_bundle_googletest)
  set(BUILD_GMOCK OFF CACHE BOOL "" FORCE)
  set(INSTALL_GTEST OFF CACHE BOOL "" FORCE)
  add_subdirectory(${ANILA_BUNDLE}/googletest ${CMAKE_BINARY_DIR}/googletest EXCLUDE_FROM_ALL)
  separate_arguments(_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  foreach(_t gtest gtest_main)
    target_compile_options(${_t} PRIVATE ${_flags})
  endforeach()
endfunction()
