# fuzz.cmake — anila's fuzz targets (fuzz/fuzz_*.cpp, see fuzz/fuzz.h).
#
# Always (with ANILA_BUILD_TESTS): anila_fuzz_smoke, every target in one
# executable linked against the library, replayed on generated seeds and a
# fixed set of mutations by ctest (fuzz_smoke_<target>, a few seconds each).
#
# With -DANILA_FUZZ=ON (clang only; make fuzz): one libFuzzer executable per
# target, built with ASan + UBSan from only the sources it needs (each group
# compiled once), and the target anila_fuzz_all that builds them all.
set(ANILA_FUZZ_TARGETS config csv idx cifar image npy checkpoint)

# The library sources each target needs, as groups compiled once (object
# libraries) and shared: core = config, io = files + checkpoint envelope and format,
# images = the image loaders.
set(ANILA_FUZZ_GROUP_core src/core/config.cpp)
set(ANILA_FUZZ_GROUP_io src/io/files.cpp src/io/checkpoint_file.cpp src/io/checkpoint_format.cpp)
set(ANILA_FUZZ_GROUP_csv src/data/points_csv.cpp)
set(ANILA_FUZZ_GROUP_images src/data/images.cpp src/data/images_idx.cpp src/data/images_cifar.cpp
    src/data/images_folder.cpp src/data/png_check.cpp)
set(ANILA_FUZZ_USES_config core)
set(ANILA_FUZZ_USES_csv core csv)
set(ANILA_FUZZ_USES_idx core images)
set(ANILA_FUZZ_USES_cifar core images)
set(ANILA_FUZZ_USES_image core images)
set(ANILA_FUZZ_USES_npy core io)
set(ANILA_FUZZ_USES_checkpoint core io)

if(ANILA_BUILD_TESTS)
  set(smoke_sources ${PROJECT_SOURCE_DIR}/fuzz/smoke_main.cpp)
  foreach(t ${ANILA_FUZZ_TARGETS})
    list(APPEND smoke_sources ${PROJECT_SOURCE_DIR}/fuzz/fuzz_${t}.cpp)
  endforeach()
  add_executable(anila_fuzz_smoke ${smoke_sources})
  if(ANILA_SANITIZE AND ANILA_SANITIZE_TESTS)
    target_compile_options(anila_fuzz_smoke PRIVATE ${ANILA_SANITIZE_FLAGS})
  endif()
  target_compile_definitions(anila_fuzz_smoke PRIVATE ANILA_FUZZ_SMOKE)
  target_include_directories(anila_fuzz_smoke PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/fuzz)
  target_link_libraries(anila_fuzz_smoke PRIVATE anila)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_FOUND)
    set(seeds ${PROJECT_BINARY_DIR}/fuzz-seeds)
    add_test(NAME fuzz_seeds COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/fuzz/make_seeds.py
                                     ${seeds} --anila $<TARGET_FILE:anila_cli>)
    set_tests_properties(fuzz_seeds PROPERTIES FIXTURES_SETUP fuzz_seeds TIMEOUT 120)
    foreach(t ${ANILA_FUZZ_TARGETS})
      add_test(NAME fuzz_smoke_${t} COMMAND anila_fuzz_smoke ${t} ${seeds}/${t} 300)
      set_tests_properties(fuzz_smoke_${t} PROPERTIES FIXTURES_REQUIRED fuzz_seeds TIMEOUT 120
                                                      PASS_REGULAR_EXPRESSION "ok: ")
    endforeach()
  endif()
endif()

if(ANILA_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "ANILA_FUZZ needs clang (libFuzzer): -DCMAKE_CXX_COMPILER=clang++")
  endif()
  set(fuzz_flags -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                 -fno-omit-frame-pointer -g -O1)
  set(fuzz_includes ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/fuzz
                     ${STB_INCLUDE_DIR})
  foreach(g core io csv images)
    set(srcs)
    foreach(s ${ANILA_FUZZ_GROUP_${g}})
      list(APPEND srcs ${PROJECT_SOURCE_DIR}/${s})
    endforeach()
    add_library(anila_fuzz_${g} OBJECT ${srcs})
    target_include_directories(anila_fuzz_${g} PRIVATE ${fuzz_includes})
    target_compile_options(anila_fuzz_${g} PRIVATE ${fuzz_flags})
    target_link_libraries(anila_fuzz_${g} PRIVATE ${TORCH_LIBRARIES} nlohmann_json::nlohmann_json)
  endforeach()
  add_custom_target(anila_fuzz_all)
  foreach(t ${ANILA_FUZZ_TARGETS})
    set(objs)
    foreach(g ${ANILA_FUZZ_USES_${t}})
      list(APPEND objs $<TARGET_OBJECTS:anila_fuzz_${g}>)
    endforeach()
    add_executable(fuzz_${t} ${PROJECT_SOURCE_DIR}/fuzz/fuzz_${t}.cpp ${objs})
    target_include_directories(fuzz_${t} PRIVATE ${fuzz_includes})
    target_compile_options(fuzz_${t} PRIVATE ${fuzz_flags})
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${t} PRIVATE ${TORCH_LIBRARIES} nlohmann_json::nlohmann_json
                                            ${STB_LIBRARY} ZLIB::ZLIB)
    add_dependencies(anila_fuzz_all fuzz_${t})
  endforeach()
endif()
