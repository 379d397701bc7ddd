# Included by the top CMakeLists.txt before any library when WISP_FUZZ_ONLY is on: every
# library of the fuzz tree (common, store, controller, ...) is compiled with the fuzzer's
# coverage instrumentation and ASan/UBSan, so that the fuzzers see inside the code they drive.
# Needs clang (libFuzzer); with another compiler the fuzz targets are skipped (fuzz/).
if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  set(WISP_FUZZ_SANITIZERS address,undefined)
  add_compile_options(-fsanitize=fuzzer-no-link,${WISP_FUZZ_SANITIZERS}
                      -fno-sanitize-recover=all -fno-omit-frame-pointer -g
                      -fsanitize-ignorelist=${CMAKE_CURRENT_LIST_DIR}/ubsan_ignorelist.txt)
  # Clang-only warnings that gcc (the main build, the one that keeps the code -Werror clean)
  # does not have: RapidJSON 1.1's member iterators under C++20, and lambda captures gcc
  # considers used. After -Wall (WISP_WARNINGS), which would enable them again.
  list(APPEND WISP_WARNINGS -Wno-ambiguous-reversed-operator -Wno-unused-lambda-capture)
  add_link_options(-fsanitize=${WISP_FUZZ_SANITIZERS})
endif()
