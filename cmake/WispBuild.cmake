# Shared build settings and helpers: wisp_add_library(), wisp_add_executable(), wisp_add_test().
set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
set(CMAKE_RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)

find_program(CCACHE_PROGRAM ccache)
if(CCACHE_PROGRAM AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
  set(CMAKE_C_COMPILER_LAUNCHER ${CCACHE_PROGRAM})
endif()

set(WISP_WARNINGS -Wall -Wextra -Werror -Wno-missing-field-initializers)

if(WISP_SANITIZE)
  add_compile_options(-fsanitize=${WISP_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${WISP_SANITIZE})
endif()

find_package(Threads REQUIRED)
find_package(absl CONFIG REQUIRED)
find_package(RapidJSON CONFIG REQUIRED)
find_package(fmt CONFIG REQUIRED)
find_package(spdlog CONFIG REQUIRED)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(Catch2 CONFIG REQUIRED)
find_package(Boost REQUIRED)
find_package(CLI11 CONFIG REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)

if(NOT TARGET RapidJSON::RapidJSON)
  add_library(RapidJSON::RapidJSON INTERFACE IMPORTED)
  set_target_properties(RapidJSON::RapidJSON PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${RapidJSON_INCLUDE_DIRS}")
endif()

# wisp::asio — Boost.Asio/Beast (header-only) and the workarounds every target using them needs,
# written once: link it instead of Boost::boost (the controller, the action proxy).
add_library(wisp_asio INTERFACE)
add_library(wisp::asio ALIAS wisp_asio)
target_link_libraries(wisp_asio INTERFACE Boost::boost Threads::Threads)
target_compile_definitions(wisp_asio INTERFACE BOOST_ASIO_NO_DEPRECATED)
# Boost 1.74's asio/awaitable.hpp uses std::exchange without including <utility>.
target_compile_options(wisp_asio INTERFACE -include utility)
# GCC 12 warns that TSan does not model Asio's atomic_thread_fence.
if(WISP_SANITIZE MATCHES "thread")
  target_compile_options(wisp_asio INTERFACE -Wno-error=tsan -Wno-tsan)
endif()

# wisp_add_library(NAME wisp_common ALIAS wisp::common SOURCES ... DEPS ...)
# Public headers live in <module>/include; sources and *_test.cpp in <module>/src.
function(wisp_add_library)
  cmake_parse_arguments(A "" "NAME;ALIAS" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${A_NAME} STATIC ${A_SOURCES})
  if(A_ALIAS)
    add_library(${A_ALIAS} ALIAS ${A_NAME})
  endif()
  target_include_directories(${A_NAME} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                       PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_compile_options(${A_NAME} PRIVATE ${WISP_WARNINGS})
  target_link_libraries(${A_NAME} PUBLIC ${A_DEPS} PRIVATE ${A_PRIVATE_DEPS})
  set_property(GLOBAL APPEND PROPERTY WISP_LIBRARIES ${A_NAME})
endfunction()

function(wisp_add_executable)
  cmake_parse_arguments(A "" "NAME" "SOURCES;DEPS" ${ARGN})
  add_executable(${A_NAME} ${A_SOURCES})
  target_compile_options(${A_NAME} PRIVATE ${WISP_WARNINGS})
  target_link_libraries(${A_NAME} PRIVATE ${A_DEPS})
endfunction()

# One Catch2 main, compiled once.
if(NOT WISP_FUZZ_ONLY)
  # file(CONFIGURE) writes only when the text changed: a re-run of CMake (a new file in a
  # CONFIGURE_DEPENDS glob, e.g. console/src) does not relink every test.
  file(CONFIGURE OUTPUT ${CMAKE_BINARY_DIR}/catch_main.cpp
       CONTENT "#define CATCH_CONFIG_MAIN\n#include <catch2/catch.hpp>\n")
  add_library(wisp_catch_main STATIC ${CMAKE_BINARY_DIR}/catch_main.cpp)
  target_link_libraries(wisp_catch_main PUBLIC Catch2::Catch2)
endif()

# wisp_add_test(NAME common_test LABELS unit SOURCES ... DEPS ... [TIMEOUT s])
function(wisp_add_test)
  if(WISP_FUZZ_ONLY)  # the fuzz tree builds no unit tests
    return()
  endif()
  cmake_parse_arguments(A "" "NAME;TIMEOUT" "SOURCES;DEPS;LABELS;ENV" ${ARGN})
  add_executable(${A_NAME} ${A_SOURCES})
  set_target_properties(${A_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_compile_options(${A_NAME} PRIVATE ${WISP_WARNINGS})
  target_link_libraries(${A_NAME} PRIVATE wisp_catch_main ${A_DEPS})
  add_test(NAME ${A_NAME} COMMAND ${A_NAME})
  if(NOT A_TIMEOUT)
    set(A_TIMEOUT 300)
  endif()
  set_tests_properties(${A_NAME} PROPERTIES LABELS "${A_LABELS}" TIMEOUT ${A_TIMEOUT})
  if(A_ENV)
    set_tests_properties(${A_NAME} PROPERTIES ENVIRONMENT "${A_ENV}")
  endif()
endfunction()

# Backends are chosen by programs only: no library (wisp_add_library, or listed in the global
# property WISP_LIBRARIES) links a store backend, the store factory, a bus backend (in-process,
# Kafka) or the Docker container factory, not even through another library. Called at the end
# of the top-level CMakeLists.txt; a library that does fails the configure with the path of links
# that brings the backend in.
function(wisp_check_backends_in_programs_only)
  set(backends wisp_store_sqlite wisp_store_couchdb wisp_store_factory wisp_messaging_inprocess
               wisp_messaging_kafka wisp_invoker_docker
               wisp_invoker_kubernetes)
  get_property(libs GLOBAL PROPERTY WISP_LIBRARIES)
  foreach(lib IN LISTS libs)
    if(lib IN_LIST backends)
      continue()  # the factory links the backends; a backend links the interface
    endif()
    set(seen)
    set(todo ${lib})
    set(path_${lib} ${lib})
    while(todo)
      list(POP_FRONT todo t)
      get_target_property(type ${t} TYPE)
      if(type STREQUAL "INTERFACE_LIBRARY")
        get_target_property(deps ${t} INTERFACE_LINK_LIBRARIES)
      else()
        get_target_property(deps ${t} LINK_LIBRARIES)
      endif()
      foreach(d IN LISTS deps)
        string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" d "${d}")
        if(NOT TARGET ${d})
          continue()
        endif()
        get_target_property(real ${d} ALIASED_TARGET)
        if(real)
          set(d ${real})
        endif()
        get_target_property(imported ${d} IMPORTED)
        if(imported OR d IN_LIST seen)
          continue()
        endif()
        list(APPEND seen ${d})
        list(APPEND todo ${d})
        set(path_${d} "${path_${t}} -> ${d}")
        if(d IN_LIST backends)
          message(FATAL_ERROR "${lib} links the backend ${d} (${path_${d}}): backends are "
                              "chosen by programs; link the interface (wisp::store, "
                              "wisp::messaging, wisp::invoker) and let the executable or "
                              "test link ${d}")
        endif()
      endforeach()
    endwhile()
  endforeach()
endfunction()
