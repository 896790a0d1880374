# SPDX-License-Identifier: Apache-2.0
# libFuzzer targets built straight from library sources with clang (the library itself may be built
# with gcc): probe once whether clang links -fsanitize=fuzzer, then
#   hostdev_add_fuzzer(NAME SOURCES src... DEPENDS header... LIBS -lfoo... [FLAGS -Idir -DX...])
# builds ${CMAKE_CURRENT_BINARY_DIR}/NAME with ASan + UBSan and a NAME-target in ALL. Callers add
# their own ctest (seed corpus, time bound) when HOSTDEV_FUZZ_WORKS is ON.
include_guard(GLOBAL)

find_program(HOSTDEV_FUZZ_CLANG NAMES clang clang-16 clang-15 clang-14)
if(HOSTDEV_FUZZ_CLANG AND NOT DEFINED HOSTDEV_FUZZ_WORKS)
  set(_probe ${CMAKE_BINARY_DIR}/fuzz-probe)
  file(WRITE ${_probe}.c
       "#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n")
  execute_process(COMMAND ${HOSTDEV_FUZZ_CLANG} -fsanitize=fuzzer ${_probe}.c -o ${_probe}
                  RESULT_VARIABLE _probe_result OUTPUT_QUIET ERROR_QUIET)
  if(_probe_result EQUAL 0)
    set(HOSTDEV_FUZZ_WORKS ON CACHE INTERNAL "clang links libFuzzer")
  else()
    set(HOSTDEV_FUZZ_WORKS OFF CACHE INTERNAL "clang links libFuzzer")
  endif()
endif()

function(hostdev_add_fuzzer name)
  cmake_parse_arguments(F "" "" "SOURCES;DEPENDS;LIBS;FLAGS" ${ARGN})
  add_custom_command(
    OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/${name}
    COMMAND ${HOSTDEV_FUZZ_CLANG} -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror
            -Wno-unused-parameter -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
            -I${PROJECT_SOURCE_DIR}/include -iquote ${PROJECT_SOURCE_DIR}/src ${F_FLAGS} ${F_SOURCES}
            ${F_LIBS} -o ${CMAKE_CURRENT_BINARY_DIR}/${name}
    DEPENDS ${F_SOURCES} ${F_DEPENDS} ${PROJECT_SOURCE_DIR}/src/core/core.h
    COMMENT "Building the libFuzzer target ${name} with clang")
  add_custom_target(${name}-target ALL DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/${name})
endfunction()

# hostdev_subsystem_sources(<var> <subsystem>...): the source files (absolute paths, generated ones
# included) of the library's OBJECT libraries hostdev-<subsystem>, for fuzzers that compile whole
# folders (core, loop, grpc) instead of lists of their files.
function(hostdev_subsystem_sources var)
  set(result)
  foreach(subsystem IN LISTS ARGN)
    get_target_property(sources hostdev-${subsystem} SOURCES)
    get_target_property(dir hostdev-${subsystem} SOURCE_DIR)
    foreach(f IN LISTS sources)
      if(IS_ABSOLUTE "${f}")
        list(APPEND result ${f})
      else()
        list(APPEND result ${dir}/${f})
      endif()
    endforeach()
  endforeach()
  set(${var} ${result} PARENT_SCOPE)
endfunction()
