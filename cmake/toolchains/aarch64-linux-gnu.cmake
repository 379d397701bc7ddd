# Cross build for arm64 (aarch64) with Debian's cross compiler and Debian multiarch libraries:
#   tools/install-deps.sh --arch arm64     (g++-aarch64-linux-gnu, qemu-user-static, <lib>-dev:arm64)
#   cmake --preset arm64 && cmake --build build-arm64     (or: make ARCH=arm64)
#   ctest --preset arm64-unit                             (the unit label under qemu-user)
#
# The sysroot is the build host's own root: the arm64 libraries live beside the amd64 ones in
# /usr/lib/aarch64-linux-gnu and /usr/include/aarch64-linux-gnu (CMAKE_LIBRARY_ARCHITECTURE makes
# find_library/find_package look there and not in x86_64-linux-gnu). Programs (protoc,
# grpc_cpp_plugin, node, python3) are the host's amd64 ones: they run at build time.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(WISP_CROSS_TRIPLET aarch64-linux-gnu)

set(CMAKE_C_COMPILER ${WISP_CROSS_TRIPLET}-gcc)
set(CMAKE_CXX_COMPILER ${WISP_CROSS_TRIPLET}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${WISP_CROSS_TRIPLET})

# libyaml-cpp-dev is not Multi-Arch: same, so its arm64 -dev package cannot be installed beside
# the amd64 one: tools/install-deps.sh --arch arm64 unpacks it into /opt/wisp-cross/arm64 (the
# shared library itself, libyaml-cpp0.7:arm64, is a normal multiarch package).
set(WISP_CROSS_EXTRA_ROOT /opt/wisp-cross/arm64 CACHE PATH
    "Unpacked arm64 -dev packages that cannot be co-installed (tools/install-deps.sh --arch arm64)")
list(APPEND CMAKE_PREFIX_PATH ${WISP_CROSS_EXTRA_ROOT}/usr)

# Host root + the extra root; libraries, headers and CMake packages only from these (the arm64
# multiarch dirs, by CMAKE_LIBRARY_ARCHITECTURE), programs from the host.
set(CMAKE_FIND_ROOT_PATH / ${WISP_CROSS_EXTRA_ROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config (librdkafka): pkgconf:arm64 installs aarch64-linux-gnu-pkg-config, which reads only
# the arm64 .pc files.
find_program(PKG_CONFIG_EXECUTABLE NAMES ${WISP_CROSS_TRIPLET}-pkg-config pkg-config)
if(NOT PKG_CONFIG_EXECUTABLE MATCHES "${WISP_CROSS_TRIPLET}-pkg-config$")
  set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${WISP_CROSS_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
endif()

# Code generation runs on the host: protoc and grpc_cpp_plugin are the amd64 executables
# (FindProtobuf's and proto/CMakeLists.txt's find_program; PROGRAM mode NEVER keeps them host).

# ctest (and add_custom_command on a built tool) runs arm64 executables through qemu-user, with
# or without binfmt_misc. No -L is needed: libc6:arm64 puts the dynamic loader at
# /lib/ld-linux-aarch64.so.1 and the libraries in the multiarch dirs. A test that starts another
# arm64 program (action_proxy_host_test starts wisp-action-proxy) needs binfmt_misc registered
# (Debian's qemu-user-static + binfmt-support do that).
find_program(WISP_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(WISP_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${WISP_QEMU_AARCH64})
endif()
