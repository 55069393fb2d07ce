# Compiles each include/ndk/*.h on its own (first and only include) with each
# compiler of COMPILERS ("path|language|standard" items; missing compilers
# are skipped) at -Wall -Wextra -Wshadow -Wpedantic -Werror.
# Usage: cmake -DINCLUDE_DIR=... -DWORK_DIR=... -DCOMPILERS=... -P check_headers.cmake
file(GLOB headers RELATIVE ${INCLUDE_DIR}/ndk ${INCLUDE_DIR}/ndk/*.h)
set(failures 0)
set(runs 0)
foreach(item IN LISTS COMPILERS)
  string(REPLACE "|" ";" parts "${item}")
  list(GET parts 0 compiler)
  list(GET parts 1 lang)
  list(GET parts 2 std)
  if(NOT compiler OR compiler MATCHES "NOTFOUND$" OR NOT EXISTS "${compiler}")
    continue()
  endif()
  foreach(h IN LISTS headers)
    set(src ${WORK_DIR}/check_${lang}_${h}.src)
    file(WRITE ${src} "#include <ndk/${h}>\ntypedef int abi_check_nonempty;\n")
    execute_process(
      COMMAND ${compiler} -x ${lang} -std=${std} -Wall -Wextra -Wshadow -Wpedantic -Werror
              -fsyntax-only -I${INCLUDE_DIR} ${src}
      RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    math(EXPR runs "${runs} + 1")
    if(NOT rc EQUAL 0)
      math(EXPR failures "${failures} + 1")
      message("FAIL ${compiler} (${lang}) ndk/${h}:\n${out}${err}")
    endif()
  endforeach()
endforeach()
message("headers_standalone: ${runs} compilations, ${failures} failures")
if(runs EQUAL 0 OR failures GREATER 0)
  message(FATAL_ERROR "header check failed")
endif()
